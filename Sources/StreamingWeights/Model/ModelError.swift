/// A model that cannot be loaded or run, with the file, tensor or value involved.
public enum ModelError: Error, Hashable, CustomStringConvertible {
    /// `config.json` is missing or unreadable.
    case missingConfiguration(path: String)
    /// `config.json` is not valid JSON, or a key has the wrong type or value.
    case invalidConfiguration(path: String, problem: String)
    /// A `model_type` other than the supported ones.
    case unsupportedModelType(String, supported: [String])
    /// A configuration option this implementation does not support.
    case unsupportedOption(key: String, value: String, supported: [String])
    /// The hidden size does not split evenly over the attention heads.
    case hiddenSizeNotDivisible(hiddenSize: Int, heads: Int)
    /// A tensor the model needs is absent.
    case missingTensor(component: String, name: String, source: String)
    /// A tensor whose shape disagrees with the configuration.
    case shapeMismatch(component: String, name: String, expected: Shape, actual: Shape)
    /// A tensor whose dtype cannot be used as weights.
    case unsupportedDType(component: String, name: String, dtype: DType)
    /// Nothing holds weights where the model was looked for.
    case noWeights(directory: String, tried: [String])
    /// An input id outside the vocabulary (or token type outside the type vocabulary).
    case idOutOfRange(kind: String, id: Int32, limit: Int)
    /// A sequence longer than the model's position embeddings.
    case sequenceTooLong(length: Int, maximum: Int)
    /// A batch with no texts.
    case emptyBatch
    /// Fetched bytes whose SHA-256 (or size) is not the manifest's: damaged at rest or in transit.
    case checksumMismatch(object: String, source: String, expected: String, actual: String)
    /// A chunk or file the manifest does not list.
    case notInManifest(object: String, source: String)
    /// A streamed chunk set without a vocabulary (the Python tool's chunker wrote none).
    case noTokenizer(source: String)
    /// A model directory (config.json and weights, no manifest) where a chunk set was expected.
    case modelDirectoryNotChunkSet(directory: String)
    /// A forward pass produced NaN or an infinity, first in the output of `component`.
    case nonFiniteOutput(component: String)
    /// A classification head whose output rows differ from the configuration's label count.
    case headLabelsDisagree(labels: Int, weightRows: Int)
    /// Scores asked of a model without a classification head.
    case noClassificationHead(model: String)
    /// BERT's classification head reads the pooler's output, and the model has no pooler.
    case headNeedsPooler

    public var description: String {
        switch self {
        case .missingConfiguration(let path):
            "cannot read the model configuration '\(path)'"
        case .invalidConfiguration(let path, let problem):
            "the model configuration '\(path)' is invalid: \(problem)"
        case .unsupportedModelType(let type, let supported):
            "model_type '\(type)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case .unsupportedOption(let key, let value, let supported):
            "\(key) '\(value)' is not supported (supported: \(supported.joined(separator: ", ")))"
        case .hiddenSizeNotDivisible(let hiddenSize, let heads):
            "hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)"
        case .missingTensor(let component, let name, let source):
            "\(component) needs tensor '\(name)', which \(source) does not have"
        case .shapeMismatch(let component, let name, let expected, let actual):
            "\(component) tensor '\(name)' has shape \(actual), but the configuration implies \(expected)"
        case .unsupportedDType(let component, let name, let dtype):
            "\(component) tensor '\(name)' is \(dtype); weights must be F32, F16, BF16 or F64"
        case .noWeights(let directory, let tried):
            "no weights in '\(directory)' (looked for \(tried.joined(separator: ", ")))"
        case .idOutOfRange(let kind, let id, let limit):
            "\(kind) \(id) is outside the model's range 0..<\(limit)"
        case .sequenceTooLong(let length, let maximum):
            "a sequence of \(length) tokens is longer than the model's \(maximum) positions"
        case .emptyBatch:
            "there are no texts to run"
        case .checksumMismatch(let object, let source, let expected, let actual):
            "\(object) from \(source) fails its checksum: the manifest says \(expected), the bytes are \(actual); the chunk is damaged (re-run the chunker)"
        case .notInManifest(let object, let source):
            "the manifest at \(source) lists no \(object)"
        case .modelDirectoryNotChunkSet(let directory):
            "'\(directory)' is a model directory (config.json and weights), not a chunk set (it has no chunk_info.json): load it with --model, or chunk it first with: chunker \(directory) --output-dir DIR"
        case .nonFiniteOutput(let component):
            "the forward pass produced NaN or infinite values, first in the output of \(component); the weights were verified, so the model itself is broken (check how it was trained or converted)"
        case .headLabelsDisagree(let labels, let rows):
            "the classification head's configuration has \(labels) labels (id2label or num_labels), but its weights have \(rows) rows"
        case .noClassificationHead(let model):
            "\(model) has no sequence-classification head, so it cannot score pairs: rerank with a cross-encoder (a *ForSequenceClassification model such as cross-encoder/ms-marco-MiniLM-L6-v2)"
        case .headNeedsPooler:
            "BERT's classification head reads the pooler's output, and the model has no pooler"
        case .noTokenizer(let source):
            "the chunk set at \(source) has no vocab.txt or tokenizer.json (the Python tool's chunker wrote none): copy the model's tokenizer files beside its chunks"
        }
    }
}
