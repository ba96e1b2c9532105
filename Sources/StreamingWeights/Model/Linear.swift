/// A fully connected layer, y = x Wᵀ + b, as `torch.nn.Linear`, with its weight packed once.
public struct Linear: Sendable {
    /// The packed weight, `[outFeatures, inFeatures]` as stored.
    let weight: PackedWeights
    /// `[outFeatures]`.
    let bias: [Float]

    public var inFeatures: Int { weight.panels.depth }
    public var outFeatures: Int { weight.panels.columns }

    /// Loads `NAME.weight` `[outFeatures, inFeatures]` and `NAME.bias` `[outFeatures]`, packed
    /// for `kernels`.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(_ tensors: ComponentTensors, _ name: String, inFeatures: Int, outFeatures: Int, kernels: KernelSet) throws {
        try self.init(
            tensors, concatenating: [name], inFeatures: inFeatures, outFeatures: outFeatures, kernels: kernels)
    }

    /// Several linear layers over the same input fused into one: the layers `names`, each with
    /// `outFeatures` outputs, side by side.
    ///
    /// float32 weights are packed straight from the stored bytes, aligned or not; other dtypes
    /// are widened one tensor at a time, so loading never holds a second copy of the weights.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(
        _ tensors: ComponentTensors, concatenating names: [String], inFeatures: Int, outFeatures: Int,
        kernels: KernelSet
    ) throws {
        let weights = try names.map { try tensors.tensor($0 + ".weight", shape: [outFeatures, inFeatures]) }
        bias = try names.flatMap { try tensors.floats($0 + ".bias", shape: [outFeatures]) }
        weight = try Self.withRows(of: weights[...], width: inFeatures, after: []) { rows in
            PackedWeights(rows: rows, inFeatures: inFeatures, for: kernels)
        }
    }

    /// Calls `body` with a pointer to every row of `weights`, in order: float32 rows where they
    /// are stored, other rows from a widened copy alive for the call.
    private static func withRows<Result>(
        of weights: ArraySlice<Tensor>,
        width: Int,
        after earlier: [UnsafeRawPointer],
        _ body: ([UnsafeRawPointer]) -> Result
    ) throws -> Result {
        guard let weight = weights.first else { return body(earlier) }
        let rest = weights.dropFirst()
        let rowBytes = width * MemoryLayout<Float>.size
        let rows = 0..<(weight.elementCount / width)
        func next(_ bytes: UnsafeRawBufferPointer) throws -> Result {
            // swift-format-ignore: NeverForceUnwrap
            // A weight's shape was checked non-empty, so it has storage.
            let base = bytes.baseAddress!
            return try withRows(of: rest, width: width, after: earlier + rows.map { base + $0 * rowBytes }, body)
        }
        if weight.dtype == .float32 { return try weight.withUnsafeBytes(next) }
        return try weight.floatValues().withUnsafeBytes(next)
    }

    /// output `[rows, outFeatures]` = input `[rows, inFeatures]` Wᵀ + b, then `epilogue`.
    func forward(
        _ input: UnsafePointer<Float>,
        rows: Int,
        into output: UnsafeMutablePointer<Float>,
        epilogue: Matmul.Epilogue = .none,
        threads: ComputeThreads
    ) {
        bias.withUnsafeBufferPointer { bias in
            Matmul.multiply(
                input,
                aStride: inFeatures,
                rows: rows,
                by: weight.panels,
                bias: bias.baseAddress,
                epilogue: epilogue,
                into: output,
                cStride: outFeatures,
                threads: threads
            )
        }
    }

    /// The bytes the packed weights and bias hold.
    var byteCount: Int { weight.byteCount + bias.count * 4 }
}

/// The parameters of a `torch.nn.LayerNorm` over the hidden size, and the kernels that apply it.
struct LayerNormParameters: Sendable {
    let weight: [Float]
    let bias: [Float]
    let epsilon: Float
    let kernels: KernelSet

    /// Loads `NAME.weight` and `NAME.bias`, both `[width]`.
    init(_ tensors: ComponentTensors, _ name: String, width: Int, epsilon: Float, kernels: KernelSet) throws {
        weight = try tensors.floats(name + ".weight", shape: [width])
        bias = try tensors.floats(name + ".bias", shape: [width])
        self.epsilon = epsilon
        self.kernels = kernels
    }

    /// output = LayerNorm(input + residual) over rows of the parameters' width.
    func apply(
        _ input: UnsafePointer<Float>,
        residual: UnsafePointer<Float>?,
        rows: Int,
        into output: UnsafeMutablePointer<Float>
    ) {
        weight.withUnsafeBufferPointer { weight in
            bias.withUnsafeBufferPointer { bias in
                // swift-format-ignore: NeverForceUnwrap
                // Both arrays have the hidden size as their count, checked on load.
                kernels.layerNorm(
                    input,
                    residual: residual,
                    rows: rows,
                    width: weight.count,
                    weight: weight.baseAddress!,
                    bias: bias.baseAddress!,
                    epsilon: epsilon,
                    into: output
                )
            }
        }
    }
}
