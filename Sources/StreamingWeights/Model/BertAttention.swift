/// Self-attention and its output projection: `BertAttention` in `modeling_bert.py`.
struct BertAttention: Sendable {
    /// `self`: softmax(Q Kᵀ / sqrt(d) + mask) V.
    let selfAttention: BertSelfAttention
    /// `output` (`BertSelfOutput`): dense, then LayerNorm with the layer's input added.
    let output: BertOutput

    /// Loads from `layer`, the view of a whole layer, under `names`.
    init(
        layer: ComponentTensors, names: LayerTensorNames, configuration: BertConfiguration, kernels: KernelSet,
        weights: WeightLayout
    ) throws {
        selfAttention = try BertSelfAttention(
            query: layer.scoped(names.query), key: layer.scoped(names.key), value: layer.scoped(names.value),
            configuration: configuration, kernels: kernels, weights: weights)
        output = try BertOutput(
            dense: layer.scoped(names.attentionOutput), layerNorm: layer.scoped(names.attentionLayerNorm),
            inFeatures: configuration.hiddenSize, configuration: configuration, kernels: kernels, weights: weights)
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
            positionBias: workspace.positionBias,
            queryKeyValueScratch: workspace.queryKeyValue,
            into: workspace.context,
            threads: threads
        )
        output.forward(
            workspace.context, residual: hidden, rows: workspace.rows, into: attentionOutput, threads: threads)
    }

    var byteCount: Int { selfAttention.queryKeyValue.byteCount + output.byteCount }
}
