/// `BertOutput` and `BertSelfOutput` in `modeling_bert.py`: dense back to the hidden size, then
/// LayerNorm of the result plus a residual.
///
/// The reference has two classes for one computation: `BertSelfOutput` (a layer's
/// `attention.output`, from the hidden size, the attention's input added) and `BertOutput` (its
/// `output`, from the intermediate size, the attention output added). Only `inFeatures` differs.
struct BertOutput: Sendable {
    let dense: Linear
    let layerNorm: LayerNorm

    /// Loads the projection from the view `dense` and the norm from `layerNorm` (a BERT layer's
    /// `output.dense` and `output.LayerNorm`; other architectures name them otherwise).
    init(
        dense denseTensors: ComponentTensors, layerNorm layerNormTensors: ComponentTensors, inFeatures: Int,
        configuration: BertConfiguration, kernels: KernelSet, weights: WeightLayout
    ) throws {
        let hidden = configuration.hiddenSize
        dense = try Linear(
            denseTensors, inFeatures: inFeatures, outFeatures: hidden, kernels: kernels, weights: weights)
        layerNorm = try LayerNorm(
            layerNormTensors, width: hidden, epsilon: configuration.layerNormEpsilon, kernels: kernels)
    }

    /// output `[rows, hidden]` = LayerNorm(dense(`input` `[rows, inFeatures]`) + `residual`);
    /// `output` must not overlap `input`.
    func forward(
        _ input: UnsafePointer<Float>, residual: UnsafePointer<Float>, rows: Int,
        into output: UnsafeMutablePointer<Float>, threads: ComputeThreads
    ) {
        dense.forward(input, rows: rows, into: output, threads: threads)
        layerNorm.forward(output, residual: residual, rows: rows, into: output)
    }

    var byteCount: Int { dense.byteCount + layerNorm.byteCount }
}
