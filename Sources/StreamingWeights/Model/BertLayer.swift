/// One encoder layer: attention, then the feed-forward block (`intermediate`, `output`).
///
/// Follows `BertLayer` in transformers' `modeling_bert.py`
/// (https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py),
/// in eval mode; each submodule is loaded from the view of its own tensors, under the
/// reference's names.
public struct BertLayer: Sendable {
    /// `attention`: self-attention and `BertSelfOutput`.
    let attention: BertAttention
    /// `intermediate`: dense + GELU.
    let intermediate: BertIntermediate
    /// `output`: dense + residual + LayerNorm.
    let output: BertOutput

    /// Loads a `layer_i` component, whose 16 tensors are named relative to the layer as the
    /// architecture names them (``BertConfiguration/layerTensorNames``), for
    /// `kernels` (by default ``KernelSet/selected(environment:)``), its weights held as
    /// `weights` says.
    ///
    /// - Throws: ``ModelError`` naming the tensor that is missing or has the wrong shape,
    ///   ``KernelSetError``.
    public init(
        _ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet? = nil,
        weights: WeightLayout = .packed
    ) throws {
        let kernels = try kernels ?? KernelSet.selected()
        let names = configuration.layerTensorNames
        attention = try BertAttention(
            layer: tensors, names: names, configuration: configuration, kernels: kernels, weights: weights)
        intermediate = try BertIntermediate(
            dense: tensors.scoped(names.intermediate), configuration: configuration, kernels: kernels, weights: weights)
        output = try BertOutput(
            dense: tensors.scoped(names.output), layerNorm: tensors.scoped(names.outputLayerNorm),
            inFeatures: configuration.intermediateSize, configuration: configuration, kernels: kernels,
            weights: weights)
    }

    /// Replaces `hidden` `[rows, hiddenSize]` with the layer's output, using `workspace` for the
    /// intermediate activations.
    func forward(_ hidden: UnsafeMutablePointer<Float>, workspace: BertWorkspace, threads: ComputeThreads) {
        let rows = workspace.rows
        // attention_output = LayerNorm(dense(self_attention(hidden)) + hidden)
        attention.forward(hidden, into: workspace.attention, workspace: workspace, threads: threads)
        // intermediate = GELU(dense(attention_output))
        intermediate.forward(workspace.attention, rows: rows, into: workspace.intermediate, threads: threads)
        // hidden = LayerNorm(dense(intermediate) + attention_output)
        output.forward(
            workspace.intermediate, residual: workspace.attention, rows: rows, into: hidden, threads: threads)
    }

    /// The bytes the layer's weights hold in memory.
    public var byteCount: Int { attention.byteCount + intermediate.byteCount + output.byteCount }
}
