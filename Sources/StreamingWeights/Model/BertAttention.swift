/// Self-attention and its output projection: `BertAttention` in `modeling_bert.py`.
struct BertAttention: Sendable {
    /// `self`: softmax(Q Kᵀ / sqrt(d) + mask) V.
    let selfAttention: BertSelfAttention
    /// `output`: dense, then LayerNorm with the layer's input added (`BertSelfOutput`).
    let output: BertSelfOutput

    init(_ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet) throws {
        selfAttention = try BertSelfAttention(tensors.scoped("self"), configuration: configuration, kernels: kernels)
        output = try BertSelfOutput(tensors.scoped("output"), configuration: configuration, kernels: kernels)
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

/// `BertSelfOutput`: dense, then LayerNorm of the result plus the attention's input.
struct BertSelfOutput: Sendable {
    let dense: Linear
    let layerNorm: LayerNorm

    init(_ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet) throws {
        let hidden = configuration.hiddenSize
        dense = try Linear(tensors.scoped("dense"), inFeatures: hidden, outFeatures: hidden, kernels: kernels)
        layerNorm = try LayerNorm(
            tensors.scoped("LayerNorm"), width: hidden, epsilon: configuration.layerNormEpsilon, kernels: kernels)
    }

    /// output = LayerNorm(dense(`input`) + `residual`); `output` must not overlap either operand.
    func forward(
        _ input: UnsafePointer<Float>, residual: UnsafePointer<Float>, rows: Int,
        into output: UnsafeMutablePointer<Float>, threads: ComputeThreads
    ) {
        dense.forward(input, rows: rows, into: output, threads: threads)
        layerNorm.forward(output, residual: residual, rows: rows, into: output)
    }

    var byteCount: Int { dense.byteCount + layerNorm.byteCount }
}
