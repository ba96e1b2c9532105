/// What an architecture's checkpoint calls each part of an encoder layer, relative to the layer.
///
/// BERT, RoBERTa's family, DistilBERT and MPNet compute the same post-LayerNorm layer
/// (attention, add and norm, feed-forward, add and norm); their reference modules differ in
/// names only, so one ``BertLayer`` loads each from its own names.
public struct LayerTensorNames: Sendable, Equatable {
    /// The query, key and value projections.
    public var query, key, value: String
    /// The projection after attention and the LayerNorm that follows it.
    public var attentionOutput, attentionLayerNorm: String
    /// The feed-forward block's two projections and the LayerNorm after them.
    public var intermediate, output, outputLayerNorm: String

    /// `BertLayer` in `modeling_bert.py` (RoBERTa's family is the same).
    public static let bert = LayerTensorNames(
        query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
        attentionOutput: "attention.output.dense", attentionLayerNorm: "attention.output.LayerNorm",
        intermediate: "intermediate.dense", output: "output.dense", outputLayerNorm: "output.LayerNorm")

    /// DistilBERT's `TransformerBlock` (`modeling_distilbert.py`).
    ///
    /// `MultiHeadSelfAttention`'s `q_lin` to `out_lin`, `sa_layer_norm`, `FFN`'s `lin1` and
    /// `lin2`, `output_layer_norm`.
    public static let distilBert = LayerTensorNames(
        query: "attention.q_lin", key: "attention.k_lin", value: "attention.v_lin",
        attentionOutput: "attention.out_lin",
        attentionLayerNorm: "sa_layer_norm", intermediate: "ffn.lin1", output: "ffn.lin2",
        outputLayerNorm: "output_layer_norm")

    /// MPNet's `MPNetLayer` (`modeling_mpnet.py`).
    ///
    /// `MPNetAttention`'s `attn.q` to `attn.o` and `LayerNorm`, then BERT's `intermediate` and
    /// `output`.
    public static let mpnet = LayerTensorNames(
        query: "attention.attn.q", key: "attention.attn.k", value: "attention.attn.v",
        attentionOutput: "attention.attn.o",
        attentionLayerNorm: "attention.LayerNorm", intermediate: "intermediate.dense", output: "output.dense",
        outputLayerNorm: "output.LayerNorm")

    /// Every tensor a layer needs, relative to it.
    public var required: [String] {
        [query, key, value, attentionOutput, attentionLayerNorm, intermediate, output, outputLayerNorm]
            .flatMap { ["\($0).weight", "\($0).bias"] }
    }
}
