/// One encoder layer: self-attention, then the feed-forward block, each with a residual
/// connection and a layer norm.
///
/// Follows `BertLayer` in transformers' `modeling_bert.py`; its submodules `BertSelfOutput`,
/// `BertIntermediate` and `BertOutput` are a `Linear` (and layer norm) each, kept under their
/// reference names.
public struct BertLayer: Sendable {
    let attention: BertSelfAttention
    /// `attention.output.dense` and `attention.output.LayerNorm` (`BertSelfOutput`).
    let attentionOutput: Linear
    let attentionLayerNorm: LayerNormParameters
    /// `intermediate.dense`, followed by GELU (`BertIntermediate`).
    let intermediate: Linear
    /// `output.dense` and `output.LayerNorm` (`BertOutput`).
    let output: Linear
    let outputLayerNorm: LayerNormParameters

    /// Loads a `layer_i` component, whose 16 tensors are named relative to the layer, packed
    /// for `kernels` (by default ``KernelSet/selected(environment:)``).
    ///
    /// - Throws: ``ModelError`` naming the tensor that is missing or has the wrong shape,
    ///   ``KernelSetError``.
    public init(_ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet? = nil) throws {
        let kernels = try kernels ?? KernelSet.selected()
        let hidden = configuration.hiddenSize
        let epsilon = configuration.layerNormEpsilon
        attention = try BertSelfAttention(tensors, configuration: configuration, kernels: kernels)
        attentionOutput = try Linear(
            tensors, "attention.output.dense", inFeatures: hidden, outFeatures: hidden, kernels: kernels)
        attentionLayerNorm = try LayerNormParameters(
            tensors, "attention.output.LayerNorm", width: hidden, epsilon: epsilon, kernels: kernels)
        intermediate = try Linear(
            tensors,
            "intermediate.dense",
            inFeatures: hidden,
            outFeatures: configuration.intermediateSize,
            kernels: kernels
        )
        output = try Linear(
            tensors, "output.dense", inFeatures: configuration.intermediateSize, outFeatures: hidden, kernels: kernels)
        outputLayerNorm = try LayerNormParameters(
            tensors, "output.LayerNorm", width: hidden, epsilon: epsilon, kernels: kernels)
    }

    /// Replaces `hidden` `[rows, hiddenSize]` with the layer's output, using `workspace` for the
    /// intermediate activations.
    func forward(_ hidden: UnsafeMutablePointer<Float>, workspace: BertWorkspace, threads: ComputeThreads) {
        let rows = workspace.rows
        attention.forward(
            hidden,
            batchSize: workspace.batchSize,
            sequenceLength: workspace.sequenceLength,
            mask: workspace.mask,
            queryKeyValueScratch: workspace.queryKeyValue,
            into: workspace.context,
            threads: threads
        )
        attentionOutput.forward(workspace.context, rows: rows, into: workspace.attention, threads: threads)
        attentionLayerNorm.apply(workspace.attention, residual: hidden, rows: rows, into: workspace.attention)
        intermediate.forward(
            workspace.attention, rows: rows, into: workspace.intermediate, epilogue: .gelu, threads: threads)
        output.forward(workspace.intermediate, rows: rows, into: hidden, threads: threads)
        outputLayerNorm.apply(hidden, residual: workspace.attention, rows: rows, into: hidden)
    }

    /// The bytes the layer's weights hold in memory.
    public var byteCount: Int {
        attention.queryKeyValue.byteCount + attentionOutput.byteCount + intermediate.byteCount + output.byteCount
            + 4 * (attentionLayerNorm.weight.count * 2 + outputLayerNorm.weight.count * 2)
    }
}

/// The activation buffers of one forward pass, allocated once for the batch's shape.
final class BertWorkspace {
    let batchSize: Int
    let sequenceLength: Int
    let rows: Int
    /// `[batchSize, sequenceLength]` additive attention mask.
    let mask: UnsafeMutablePointer<Float>
    let queryKeyValue: UnsafeMutablePointer<Float>
    let context: UnsafeMutablePointer<Float>
    let attention: UnsafeMutablePointer<Float>
    let intermediate: UnsafeMutablePointer<Float>
    private let memory: UnsafeMutableRawPointer

    init(batch: EncodedBatch, configuration: BertConfiguration) {
        batchSize = batch.batchSize
        sequenceLength = batch.sequenceLength
        rows = batchSize * sequenceLength
        let hidden = configuration.hiddenSize
        // Each buffer rounded up to 16 floats so every one starts 64-byte aligned.
        let sizes = [rows, rows * 3 * hidden, rows * hidden, rows * hidden, rows * configuration.intermediateSize]
            .map { ($0 + 15) & ~15 }
        memory = UnsafeMutableRawPointer.allocate(byteCount: sizes.reduce(0, +) * 4, alignment: 64)
        var next = memory.bindMemory(to: Float.self, capacity: sizes.reduce(0, +))
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        mask = take(sizes[0])
        queryKeyValue = take(sizes[1])
        context = take(sizes[2])
        attention = take(sizes[3])
        intermediate = take(sizes[4])
        for index in 0..<rows {
            mask[index] = batch.attentionMask[index] == 0 ? BertSelfAttention.maskedValue : 0
        }
    }

    deinit {
        memory.deallocate()
    }
}
