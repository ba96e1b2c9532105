import Foundation

/// Texts in, embeddings out: a tokenizer and a BERT model together.
public struct TextEncoder: Sendable {
    public let tokenizer: BertTokenizer
    public let configuration: BertConfiguration
    /// The kernels the model computes with.
    public let kernels: KernelSet
    /// The model's forward pass: local, or streamed from a weight server.
    private let forward: @Sendable (EncodedBatch, ComputeThreads) async throws -> BertModelOutput

    public init(tokenizer: BertTokenizer, model: BertModel) {
        self.tokenizer = tokenizer
        configuration = model.configuration
        kernels = model.kernels
        forward = { try await model.forward($0, threads: $1) }
    }

    /// A model streamed from a weight server, with the tokenizer it fetched.
    public init(streaming model: StreamingBertModel) {
        tokenizer = model.tokenizer
        configuration = model.configuration
        kernels = model.kernels
        forward = { try await model.forward($0, threads: $1) }
    }

    /// Loads a Hugging Face model directory (`config.json`, `model.safetensors`, tokenizer files).
    public init(modelDirectory directory: String) async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: directory))
        let tokenizer = try BertTokenizer(directory: directory, maximumPositions: model.configuration.maximumPositions)
        self.init(tokenizer: tokenizer, model: model)
    }

    /// Loads a chunk directory (docs/FORMAT.md) whole, checked exactly as a streamed chunk set
    /// is: every file the model and tokenizer use is one the manifest lists, with its size and
    /// SHA-256, and nothing else in the directory is read.
    ///
    /// - Throws: what ``RemoteTensorSource/init(chunkDirectory:)`` throws, ``ModelError`` for a
    ///   damaged chunk, or ``TokenizerError``.
    public init(chunksDirectory directory: String) async throws {
        try await self.init(loading: try await RemoteTensorSource(chunkDirectory: directory))
    }

    /// Loads the whole chunk set of `source`, with the tokenizer its manifest lists.
    ///
    /// - Throws: ``ModelError`` for a damaged or missing chunk, a fetch error, or ``TokenizerError``.
    public init(loading source: RemoteTensorSource) async throws {
        let model = try await BertModel(loadingFrom: source)
        let tokenizer = try await source.tokenizer(maximumPositions: model.configuration.maximumPositions)
        self.init(tokenizer: tokenizer, model: model)
    }

    /// One text's result.
    public struct TextResult: Sendable {
        public let text: String
        /// The text's own tokens, `[CLS]` and `[SEP]` included, without batch padding.
        public let tokens: [String]
        public let inputIDs: [Int32]
        /// How many tokens truncation removed (0 when the text fit).
        public let truncatedCount: Int
        public let embedding: [Float]
        /// `[tokens.count, hiddenSize]`, one row per own token.
        public let lastHiddenState: [[Float]]
        /// `[hiddenSize]`, or `nil` when the model has no pooler.
        public let poolerOutput: [Float]?
    }

    /// The results of one run.
    public struct Results: Sendable {
        public let texts: [TextResult]
        /// The time of each forward pass, in milliseconds, sorted.
        public let forwardTimes: [Double]
    }

    /// Tokenizes `texts` into one padded batch and runs the model `repeatCount` times.
    ///
    /// - Throws: ``TokenizerError/emptyBatch`` for no texts, ``PoolingError/noPooler`` for
    ///   `.pooler` on a model without a pooler, or what the forward pass throws.
    public func encode(
        _ texts: [String],
        pooling: Pooling,
        normalize: Bool = false,
        threads: ComputeThreads = ComputeThreads(),
        repeatCount: Int = 1
    ) async throws -> Results {
        let encodings = try texts.map { try tokenizer.encode($0) }
        let batch = try tokenizer.encodeBatch(encodings)
        var output: BertModelOutput?
        var times: [Double] = []
        for _ in 0..<max(1, repeatCount) {
            let start = DispatchTime.now().uptimeNanoseconds
            output = try await forward(batch, threads)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        guard let output else { throw TokenizerError.emptyBatch }
        let hidden = output.hiddenSize
        let results = try texts.indices.map { item in
            let encoding = encodings[item]
            let states = output.hiddenStates(ofRow: item, tokenCount: encoding.ids.count)
            return TextResult(
                text: texts[item],
                tokens: tokenizer.tokens(encoding.ids),
                inputIDs: encoding.ids,
                truncatedCount: encoding.truncatedCount,
                embedding: try output.embedding(ofRow: item, in: batch, pooling: pooling, normalize: normalize),
                lastHiddenState: stride(from: states.startIndex, to: states.endIndex, by: hidden).map {
                    Array(states[$0..<($0 + hidden)])
                },
                poolerOutput: output.poolerOutput.map { Array($0[(item * hidden)..<((item + 1) * hidden)]) }
            )
        }
        return Results(texts: results, forwardTimes: times.sorted())
    }
}
