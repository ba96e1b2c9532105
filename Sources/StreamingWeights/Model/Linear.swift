/// A fully connected layer, y = x Wᵀ + b, as `torch.nn.Linear`, with its weight packed once.
public struct Linear: Sendable {
    /// The packed weight, `[outFeatures, inFeatures]` as stored.
    let weight: PackedWeights
    /// `[outFeatures]`.
    let bias: [Float]

    public var inFeatures: Int { weight.panels.depth }
    public var outFeatures: Int { weight.panels.columns }

    /// Loads `NAME.weight` `[outFeatures, inFeatures]` and `NAME.bias` `[outFeatures]`.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(_ tensors: ComponentTensors, _ name: String, inFeatures: Int, outFeatures: Int) throws {
        let weights = try tensors.floats(name + ".weight", shape: [outFeatures, inFeatures])
        bias = try tensors.floats(name + ".bias", shape: [outFeatures])
        weight = weights.withUnsafeBufferPointer { buffer in
            // swift-format-ignore: NeverForceUnwrap
            // A non-empty shape was just checked, so the buffer has storage.
            PackedWeights(linearWeight: buffer.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures)
        }
    }

    /// Several linear layers over the same input fused into one: their outputs side by side.
    init(concatenating parts: [(weights: [Float], bias: [Float])], inFeatures: Int) {
        let outFeatures = parts.reduce(0) { $0 + $1.bias.count }
        let weights = parts.flatMap(\.weights)
        bias = parts.flatMap(\.bias)
        weight = weights.withUnsafeBufferPointer { buffer in
            // swift-format-ignore: NeverForceUnwrap
            // The parts are non-empty weight matrices.
            PackedWeights(linearWeight: buffer.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures)
        }
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

/// The parameters of a `torch.nn.LayerNorm` over the hidden size.
struct LayerNormParameters: Sendable {
    let weight: [Float]
    let bias: [Float]
    let epsilon: Float

    /// Loads `NAME.weight` and `NAME.bias`, both `[width]`.
    init(_ tensors: ComponentTensors, _ name: String, width: Int, epsilon: Float) throws {
        weight = try tensors.floats(name + ".weight", shape: [width])
        bias = try tensors.floats(name + ".bias", shape: [width])
        self.epsilon = epsilon
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
                LayerNorm.apply(
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
