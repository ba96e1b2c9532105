import Foundation

/// A sequence-classification head: what a cross-encoder (reranker) scores a pair with.
///
/// Three reference shapes, by architecture:
/// - BERT (`BertForSequenceClassification` in `modeling_bert.py`): `classifier(pooler_output)`;
///   the `head` chunk holds `weight` `[labels, hidden]` and `bias` `[labels]`.
/// - RoBERTa's family and MPNet (`RobertaClassificationHead`, `MPNetClassificationHead`):
///   `out_proj(tanh(dense(first token's state)))`; the chunk holds `dense.*` and `out_proj.*`.
/// - DistilBERT (`DistilBertForSequenceClassification`): `classifier(relu(pre_classifier(first
///   token's state)))`; the chunk holds `pre_classifier.*`, `weight` and `bias`.
/// Dropout is the identity at inference.
public struct SequenceClassificationHead: Sendable {
    /// `dense` (RoBERTa, MPNet) or `pre_classifier` (DistilBERT) on the first token's state,
    /// `nil` for BERT's head.
    let dense: Linear?
    /// What follows `dense`: tanh, or ReLU for DistilBERT.
    private let relu: Bool
    /// `classifier` (BERT, DistilBERT) or `out_proj`.
    let output: Linear
    /// How many logits each text gets.
    public let labelCount: Int

    /// Where an architecture's head keeps its parts, relative to the `head` chunk.
    private struct Layout {
        /// The module before the output on the first token's state, `nil` on the pooler's output.
        var dense: String?
        /// The output module's scope, empty when its `weight` and `bias` are the chunk's own.
        var output: String

        init(_ configuration: BertConfiguration) {
            switch configuration.modelType {
            case "bert": (dense, output) = (nil, "")
            case "distilbert": (dense, output) = ("pre_classifier", "")
            default: (dense, output) = ("dense", "out_proj")
            }
        }

        func name(_ scope: String, _ tensor: String) -> String { scope.isEmpty ? tensor : scope + "." + tensor }
    }

    /// Every tensor the head of `configuration`'s architecture has, relative to the chunk.
    static func requiredTensors(for configuration: BertConfiguration) -> [String] {
        let layout = Layout(configuration)
        return ([layout.dense].compactMap { $0 } + [layout.output]).flatMap {
            [layout.name($0, "weight"), layout.name($0, "bias")]
        }
    }

    /// Loads the `head` component for `configuration`'s architecture.
    ///
    /// - Parameter hasPooler: whether the model has a pooler, which BERT's head reads.
    /// - Throws: ``ModelError/headLabelsDisagree(labels:weightRows:)`` when the configuration's
    ///   labels (`id2label`, or `num_labels`) and the output weights' rows differ,
    ///   ``ModelError/headNeedsPooler`` for BERT's head on a model without a pooler, or
    ///   ``ModelError`` for a missing or misshapen tensor.
    public init(
        _ tensors: ComponentTensors, configuration: BertConfiguration, hasPooler: Bool, kernels: KernelSet? = nil
    ) throws {
        let kernels = try kernels ?? KernelSet.selected()
        let hidden = configuration.hiddenSize
        let layout = Layout(configuration)
        guard layout.dense != nil || hasPooler else { throw ModelError.headNeedsPooler }
        let outputName = layout.name(layout.output, "weight")
        guard let rows = tensors.tensors[outputName]?.shape.dimensions.first else {
            throw ModelError.missingTensor(component: tensors.component.name, name: outputName, source: tensors.source)
        }
        let labels = configuration.labelCount ?? rows
        guard labels == rows else { throw ModelError.headLabelsDisagree(labels: labels, weightRows: rows) }
        labelCount = labels
        relu = configuration.modelType == "distilbert"
        dense = try layout.dense.map {
            try Linear(tensors.scoped($0), inFeatures: hidden, outFeatures: hidden, kernels: kernels)
        }
        output = try Linear(
            layout.output.isEmpty ? tensors : tensors.scoped(layout.output), inFeatures: hidden, outFeatures: labels,
            kernels: kernels)
    }

    /// The logits `[batchSize, labelCount]` from the hidden states
    /// `[batchSize, sequenceLength, hidden]` and, for BERT's head, the pooled output.
    ///
    /// - Precondition: BERT's head gets the pooled output.
    func forward(_ hidden: UnsafePointer<Float>, pooled: [Float]?, batchSize: Int, sequenceLength: Int) -> [Float] {
        let width = output.inFeatures
        var input: [Float]
        if let dense {
            var first = [Float](repeating: 0, count: batchSize * width)
            for item in 0..<batchSize {
                for j in 0..<width { first[item * width + j] = hidden[item * sequenceLength * width + j] }
            }
            input = [Float](repeating: 0, count: batchSize * width)
            Self.apply(dense, to: first, into: &input, rows: batchSize)
            input = relu ? input.map { max(0, $0) } : input.map { Foundation.tanh($0) }
        } else {
            guard let pooled else { preconditionFailure("BERT's classification head needs the pooler's output") }
            input = pooled
        }
        var logits = [Float](repeating: 0, count: batchSize * labelCount)
        Self.apply(output, to: input, into: &logits, rows: batchSize)
        return logits
    }

    private static func apply(_ linear: Linear, to input: [Float], into output: inout [Float], rows: Int) {
        input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                // swift-format-ignore: NeverForceUnwrap
                // Both arrays hold at least one row (a batch is never empty).
                linear.forward(input.baseAddress!, rows: rows, into: output.baseAddress!, threads: .single)
            }
        }
    }
}
