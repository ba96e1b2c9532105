/// A fully connected layer, y = x Wᵀ + b, as `torch.nn.Linear`, with its weight packed once.
public struct Linear: Sendable {
    /// The packed weight, `[outFeatures, inFeatures]` as stored.
    let weight: PackedWeights
    /// `[outFeatures]`.
    let bias: [Float]

    public var inFeatures: Int { weight.panels.depth }
    public var outFeatures: Int { weight.panels.columns }

    /// Loads `weight` `[outFeatures, inFeatures]` and `bias` `[outFeatures]` of `tensors`' view,
    /// packed for `kernels`.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(_ tensors: ComponentTensors, inFeatures: Int, outFeatures: Int, kernels: KernelSet) throws {
        try self.init(concatenating: [tensors], inFeatures: inFeatures, outFeatures: outFeatures, kernels: kernels)
    }

    /// Several linear layers over the same input fused into one: the layers `layers` (views
    /// holding `weight` and `bias`), each with `outFeatures` outputs, side by side.
    ///
    /// float32, float16 and bfloat16 weights are packed straight from the stored bytes, aligned
    /// or not, narrow ones widened inside the pack; other dtypes (and weights of mixed dtypes)
    /// are widened one tensor at a time first, so loading never holds a second copy of the
    /// weights.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(concatenating layers: [ComponentTensors], inFeatures: Int, outFeatures: Int, kernels: KernelSet) throws {
        let weights = try layers.map { try $0.tensor("weight", shape: [outFeatures, inFeatures]) }
        bias = try layers.flatMap { try $0.floats("bias", shape: [outFeatures]) }
        let stored = weights.first?.dtype ?? .float32
        let packed =
            weights.allSatisfy { $0.dtype == stored } && PackedWeights.packedDTypes[stored] != nil ? stored : nil
        weight = try Self.withRows(of: weights[...], width: inFeatures, stored: packed, after: []) { rows in
            PackedWeights(rows: rows, dtype: packed ?? .float32, inFeatures: inFeatures, for: kernels)
        }
    }

    /// Calls `body` with a pointer to every row of `weights`, in order: rows where they are
    /// stored when `stored` (their dtype) is given, else rows from a float32 copy alive for the
    /// call.
    private static func withRows<Result>(
        of weights: ArraySlice<Tensor>,
        width: Int,
        stored: DType?,
        after earlier: [UnsafeRawPointer],
        _ body: ([UnsafeRawPointer]) -> Result
    ) throws -> Result {
        guard let weight = weights.first else { return body(earlier) }
        let rest = weights.dropFirst()
        let rowBytes = width * (stored?.byteCount ?? MemoryLayout<Float>.size)
        let rows = 0..<(weight.elementCount / width)
        func next(_ bytes: UnsafeRawBufferPointer) throws -> Result {
            // swift-format-ignore: NeverForceUnwrap
            // A weight's shape was checked non-empty, so it has storage.
            let base = bytes.baseAddress!
            return try withRows(
                of: rest, width: width, stored: stored, after: earlier + rows.map { base + $0 * rowBytes }, body)
        }
        if stored != nil { return try weight.withUnsafeBytes(next) }
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
