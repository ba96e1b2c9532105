import Foundation

/// The sizes and options of a BERT model, decoded from its `config.json`.
///
/// Mirrors transformers' `BertConfig`; only what inference uses is kept, and options this
/// implementation does not support are rejected rather than ignored.
public struct BertConfiguration: Sendable, Equatable {
    /// The model types that load, each computing BERT's encoder layer.
    ///
    /// RoBERTa's family
    /// (`roberta`, `xlm-roberta`, `camembert`) differs in its position ids
    /// (``positionsFollowPadding``); DistilBERT in its names (``layerTensorNames``), its
    /// `config.json` keys and having no token types or pooler; MPNet in its names, positions
    /// like RoBERTa's, no token types, and a relative position bias every layer adds to its
    /// attention scores (``relativeAttentionBuckets``).
    public static let supportedModelTypes = ["bert", "roberta", "xlm-roberta", "camembert", "distilbert", "mpnet"]
    /// The types whose position ids follow the padding id.
    private static let robertaFamily: Set = ["roberta", "xlm-roberta", "camembert", "mpnet"]

    public var modelType: String
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var attentionHeadCount: Int
    public var intermediateSize: Int
    public var maximumPositions: Int
    /// Token types the embeddings know; 0 when the model has none (DistilBERT), and then the
    /// batch's token type ids are not used.
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    public var padTokenID: Int
    /// The rows of MPNet's relative position bias table (``RelativePositionBias``); `nil` for
    /// the architectures without one.
    public var relativeAttentionBuckets: Int?
    /// The labels of a sequence-classification head (`id2label`'s count, else `num_labels`),
    /// when the configuration names any.
    public var labelCount: Int?

    /// The width of one attention head.
    public var headSize: Int { hiddenSize / attentionHeadCount }

    /// What the checkpoint calls each part of a layer.
    public var layerTensorNames: LayerTensorNames {
        switch modelType {
        case "distilbert": .distilBert
        case "mpnet": .mpnet
        default: .bert
        }
    }

    /// Whether position ids count real tokens from `padTokenID + 1` and padding sits at
    /// `padTokenID`, as transformers' `create_position_ids_from_input_ids` does for RoBERTa's
    /// family, rather than running 0..<L.
    public var positionsFollowPadding: Bool { Self.robertaFamily.contains(modelType) }

    /// The longest sequence the position embeddings cover: RoBERTa's family spends the first
    /// `padTokenID + 1` rows on the padding offset.
    public var maximumSequenceLength: Int {
        positionsFollowPadding ? maximumPositions - padTokenID - 1 : maximumPositions
    }

    /// A configuration with explicit sizes (defaults as transformers' `BertConfig`).
    public init(
        vocabularySize: Int = 30522,
        hiddenSize: Int = 768,
        layerCount: Int = 12,
        attentionHeadCount: Int = 12,
        intermediateSize: Int = 3072,
        maximumPositions: Int = 512,
        typeVocabularySize: Int = 2,
        layerNormEpsilon: Float = 1e-12,
        padTokenID: Int = 0
    ) {
        self.modelType = "bert"
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.attentionHeadCount = attentionHeadCount
        self.intermediateSize = intermediateSize
        self.maximumPositions = maximumPositions
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
        self.padTokenID = padTokenID
    }

    /// Decodes `config.json` bytes.
    ///
    /// - Parameter path: the name used in errors.
    /// - Throws: ``ModelError`` naming the path and the key.
    public init(json bytes: [UInt8], path: String) throws {
        let root: JSONValue
        do {
            root = try bytes.withUnsafeBytes { try JSONParser.parse($0) }
        } catch {
            throw ModelError.invalidConfiguration(path: path, problem: "\(error)")
        }
        guard let object = root.objectValue else {
            throw ModelError.invalidConfiguration(path: path, problem: "it is \(root.kindDescription), not an object")
        }
        func integer(_ key: String, default value: Int? = nil) throws -> Int {
            guard let entry = object[key] else {
                guard let value else {
                    throw ModelError.invalidConfiguration(path: path, problem: "'\(key)' is missing")
                }
                return value
            }
            guard let number = entry.integerValue, number > 0 || (key == "pad_token_id" && number == 0) else {
                throw ModelError.invalidConfiguration(
                    path: path,
                    problem: "'\(key)' must be a positive integer, not \(entry.serialized)"
                )
            }
            return Int(number)
        }
        func string(_ key: String, default value: String) throws -> String {
            guard let entry = object[key], entry != .null else { return value }
            guard let text = entry.stringValue else {
                throw ModelError.invalidConfiguration(
                    path: path, problem: "'\(key)' must be a string, not \(entry.serialized)")
            }
            return text
        }

        modelType = try string("model_type", default: "bert")
        guard Self.supportedModelTypes.contains(modelType) else {
            throw ModelError.unsupportedModelType(modelType, supported: Self.supportedModelTypes)
        }
        // DistilBERT's config.json has keys of its own (`modeling_distilbert.py`'s `DistilBertConfig`).
        let distil = modelType == "distilbert"
        let activation = try string(distil ? "activation" : "hidden_act", default: "gelu")
        guard activation == "gelu" else {
            throw ModelError.unsupportedOption(
                key: distil ? "activation" : "hidden_act", value: activation, supported: ["gelu"])
        }
        let positionType = try string("position_embedding_type", default: "absolute")
        guard positionType == "absolute" else {
            throw ModelError.unsupportedOption(
                key: "position_embedding_type", value: positionType, supported: ["absolute"])
        }
        // DistilBERT's `sinusoidal_pos_embds` needs nothing of its own: transformers writes the
        // sinusoids into `position_embeddings.weight` at init and saves them, and loading uses the
        // stored table (checked by Fixtures/generators/make_encoder_fixtures.py).
        vocabularySize = try integer("vocab_size")
        hiddenSize = try integer(distil ? "dim" : "hidden_size")
        layerCount = try integer(distil ? "n_layers" : "num_hidden_layers")
        attentionHeadCount = try integer(distil ? "n_heads" : "num_attention_heads")
        intermediateSize = try integer(distil ? "hidden_dim" : "intermediate_size")
        maximumPositions = try integer("max_position_embeddings", default: 512)
        // MPNet has no token types (MPNetConfig has no type_vocab_size).
        typeVocabularySize = distil || modelType == "mpnet" ? 0 : try integer("type_vocab_size", default: 2)
        relativeAttentionBuckets =
            modelType == "mpnet" ? try integer("relative_attention_num_buckets", default: 32) : nil
        if let labels = object["id2label"]?.objectValue {
            labelCount = labels.members.count
        } else if object["num_labels"] != nil {
            labelCount = try integer("num_labels")
        }
        padTokenID = try integer("pad_token_id", default: 0)
        switch object["layer_norm_eps"] {
        case nil: layerNormEpsilon = 1e-12
        case .double(let value)?: layerNormEpsilon = Float(value)
        case .integer(let value)?: layerNormEpsilon = Float(value)
        case let other?:
            throw ModelError.invalidConfiguration(
                path: path, problem: "'layer_norm_eps' must be a number, not \(other.serialized)")
        }
        guard hiddenSize % attentionHeadCount == 0 else {
            throw ModelError.hiddenSizeNotDivisible(hiddenSize: hiddenSize, heads: attentionHeadCount)
        }
    }

    /// Reads and decodes the `config.json` at `path`.
    ///
    /// - Throws: ``ModelError/missingConfiguration(path:)`` or ``ModelError/invalidConfiguration(path:problem:)``.
    public init(contentsOfFile path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelError.missingConfiguration(path: path)
        }
        try self.init(json: Array(data), path: path)
    }
}
