/// Layer normalisation over the hidden size, as `torch.nn.LayerNorm` (`weight`, `bias`, the
/// configuration's epsilon), with the kernels that apply it.
struct LayerNorm: Sendable {
    let weight: [Float]
    let bias: [Float]
    let epsilon: Float
    let kernels: KernelSet

    /// Loads `weight` and `bias`, both `[width]`, of `tensors`' view.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(_ tensors: ComponentTensors, width: Int, epsilon: Float, kernels: KernelSet) throws {
        weight = try tensors.floats("weight", shape: [width])
        bias = try tensors.floats("bias", shape: [width])
        self.epsilon = epsilon
        self.kernels = kernels
    }

    /// output = LayerNorm(input + residual) over `rows` rows of the parameters' width.
    func forward(
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

    /// The bytes the parameters hold.
    var byteCount: Int { 4 * (weight.count + bias.count) }
}
