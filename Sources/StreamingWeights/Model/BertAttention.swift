/// Self-attention and its output projection: `BertAttention` in `modeling_bert.py`.
struct BertAttention: Sendable {
    /// `self`: softmax(Q Kᵀ / sqrt(d) + mask) V.
    let selfAttention: BertSelfAttention
    /// `output` (`BertSelfOutput`): dense, then LayerNorm with the layer's input added.
    let output: BertOutput

    init(
        _ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet, weights: WeightLayout
    ) throws {
        selfAttention = try BertSelfAttention(
            tensors.scoped("self"), configuration: configuration, kernels: kernels, weights: weights)
        output = try BertOutput(
            tensors.scoped("output"), inFeatures: configuration.hiddenSize, configuration: configuration,
            kernels: kernels, weights: weights)
    }

    /// attention_output `[rows, hidden]` = LayerNorm(dense(self-attention(`hidden`)) + `hidden`).
    func forward(
        _ hidden: UnsafePointer<Float>, into attentionOutput: UnsafeMutablePointer<Float>, workspace: BertWorkspace,
        threads: ComputeThreads
    ) {
        selfAttention.forward(
            hidden,
            batchSize: workspace.batchSize,
            sequenceLength: workspace.sequenceLength,
            mask: workspace.mask,
            queryKeyValueScratch: workspace.queryKeyValue,
            into: workspace.context,
            threads: threads
        )
        output.forward(
            workspace.context, residual: hidden, rows: workspace.rows, into: attentionOutput, threads: threads)
    }

    var byteCount: Int { selfAttention.queryKeyValue.byteCount + output.byteCount }
}
