/// `BertOutput` in `modeling_bert.py`: dense back to the hidden size, then LayerNorm of the
/// result plus the attention output.
struct BertOutput: Sendable {
    let dense: Linear
    let layerNorm: LayerNorm

    init(_ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet) throws {
        let hidden = configuration.hiddenSize
        dense = try Linear(
            tensors.scoped("dense"), inFeatures: configuration.intermediateSize, outFeatures: hidden, kernels: kernels)
        layerNorm = try LayerNorm(
            tensors.scoped("LayerNorm"), width: hidden, epsilon: configuration.layerNormEpsilon, kernels: kernels)
    }

    /// output `[rows, hidden]` = LayerNorm(dense(`input` `[rows, intermediate]`) + `residual`).
    func forward(
        _ input: UnsafePointer<Float>, residual: UnsafePointer<Float>, rows: Int,
        into output: UnsafeMutablePointer<Float>, threads: ComputeThreads
    ) {
        dense.forward(input, rows: rows, into: output, threads: threads)
        layerNorm.forward(output, residual: residual, rows: rows, into: output)
    }

    var byteCount: Int { dense.byteCount + layerNorm.byteCount }
}
