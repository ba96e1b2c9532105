/// `BertIntermediate` in `modeling_bert.py`: dense to the intermediate size, then GELU (fused
/// into the matmul's epilogue).
struct BertIntermediate: Sendable {
    let dense: Linear

    /// Loads the projection from the view `dense` (a BERT layer's `intermediate.dense`).
    init(
        dense tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet, weights: WeightLayout
    ) throws {
        dense = try Linear(
            tensors, inFeatures: configuration.hiddenSize, outFeatures: configuration.intermediateSize,
            kernels: kernels, weights: weights)
    }

    /// output `[rows, intermediate]` = GELU(dense(input `[rows, hidden]`)).
    func forward(
        _ input: UnsafePointer<Float>, rows: Int, into output: UnsafeMutablePointer<Float>, threads: ComputeThreads
    ) {
        dense.forward(input, rows: rows, into: output, epilogue: .gelu, threads: threads)
    }

    var byteCount: Int { dense.byteCount }
}
