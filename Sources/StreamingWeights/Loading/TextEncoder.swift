import Foundation

/// Texts in, embeddings out: a tokenizer and a BERT model together.
public struct TextEncoder: Sendable {
    public let tokenizer: any TextTokenizer
    public let configuration: BertConfiguration
    /// The kernels the model computes with.
    public let kernels: KernelSet
    /// The sentence-transformers settings the model came with (`modules.json`), if any: the
    /// pooling and normalization ``encode(_:pooling:normalize:threads:repeatCount:)`` uses when
    /// not told; a failure when they are ones this library does not follow yet.
    public let sentenceEmbedding: Result<SentenceEmbeddingSettings, SentenceEmbeddingError>?
    /// The labels of the model's sequence-classification head, `nil` without one.
    public let headLabelCount: Int?
    /// The model's forward pass: local, or streamed from a weight server.
    private let forward: @Sendable (EncodedBatch, ComputeThreads) async throws -> BertModelOutput

    public init(
        tokenizer: any TextTokenizer, model: BertModel,
        sentenceEmbedding: Result<SentenceEmbeddingSettings, SentenceEmbeddingError>? = nil
    ) {
        self.tokenizer = Self.limited(tokenizer, by: sentenceEmbedding)
        self.sentenceEmbedding = sentenceEmbedding
        configuration = model.configuration
        kernels = model.kernels
        headLabelCount = model.head?.labelCount
        forward = { try await model.forward($0, threads: $1) }
    }

    /// A model streamed from a weight server, with the tokenizer it fetched.
    public init(streaming model: StreamingBertModel) {
        tokenizer = Self.limited(model.tokenizer, by: model.sentenceEmbedding)
        sentenceEmbedding = model.sentenceEmbedding
        configuration = model.configuration
        kernels = model.kernels
        headLabelCount = model.model.head?.labelCount
        forward = { try await model.forward($0, threads: $1) }
    }

    /// `tokenizer`, truncating at the sentence-transformers model's `max_seq_length` when that is
    /// shorter, as sentence-transformers does.
    private static func limited(
        _ tokenizer: any TextTokenizer, by settings: Result<SentenceEmbeddingSettings, SentenceEmbeddingError>?
    ) -> any TextTokenizer {
        var tokenizer = tokenizer
        if case .success(let settings)? = settings, let length = settings.maximumSequenceLength {
            tokenizer.maximumLength = min(tokenizer.maximumLength, length)
        }
        return tokenizer
    }

    /// Loads a Hugging Face model directory (`config.json`, `model.safetensors`, tokenizer files).
    public init(modelDirectory directory: String) async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: directory))
        let tokenizer = try TokenizerLoader.load(
            directory: directory, maximumPositions: model.configuration.maximumSequenceLength)
        self.init(
            tokenizer: tokenizer, model: model, sentenceEmbedding: try Self.sentenceEmbedding(directory: directory))
    }

    /// The sentence-transformers settings in a model directory: `nil` without `modules.json`.
    ///
    /// - Throws: ``FileError`` for a file that cannot be read.
    static func sentenceEmbedding(directory: String) throws -> Result<
        SentenceEmbeddingSettings, SentenceEmbeddingError
    >? {
        let modulesName = SentenceEmbeddingSettings.modulesFile
        func read(_ name: String) throws -> [UInt8]? {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FileError(path: path, operation: "read", code: EIO)
            }
            return Array(data)
        }
        guard let modules = try read(modulesName) else { return nil }
        var files = [modulesName: modules]
        do {
            for name in try SentenceEmbeddingSettings.configurationFiles(modules: modules, location: directory) {
                files[name] = try read(name)
            }
            return .success(try SentenceEmbeddingSettings(files: files, location: directory))
        } catch let error as SentenceEmbeddingError {
            return .failure(error)
        }
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
        let tokenizer = try await source.tokenizer(maximumPositions: model.configuration.maximumSequenceLength)
        self.init(tokenizer: tokenizer, model: model, sentenceEmbedding: try await source.sentenceEmbeddingSettings())
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
        /// How the embeddings were pooled, and whether they were normalized.
        public let pooling: Pooling
        public let normalized: Bool
        /// The time of each forward pass, in milliseconds, sorted.
        public let forwardTimes: [Double]
    }

    /// Tokenizes `texts` into one padded batch and runs the model `repeatCount` times.
    ///
    /// - Parameters:
    ///   - pooling: how to pool the token states (by default the model's own, as its
    ///     sentence-transformers files say, else `.cls`);
    ///   - normalize: whether to scale embeddings to unit length (by default as the model's files
    ///     say, else not).
    /// - Throws: ``TokenizerError/emptyBatch`` for no texts, ``PoolingError/noPooler`` for
    ///   `.pooler` on a model without a pooler, ``SentenceEmbeddingError`` when a default is
    ///   needed from settings this library does not follow, or what the forward pass throws.
    public func encode(
        _ texts: [String],
        pooling: Pooling? = nil,
        normalize: Bool? = nil,
        threads: ComputeThreads = ComputeThreads(),
        repeatCount: Int = 1
    ) async throws -> Results {
        var settings: SentenceEmbeddingSettings?
        if pooling == nil || normalize == nil, let sentenceEmbedding { settings = try sentenceEmbedding.get() }
        // The model's Dense modules belong to its own pooling: a pooling given by hand skips them.
        let dense = pooling == nil ? settings?.dense ?? [] : []
        let pooling = pooling ?? settings?.pooling ?? .cls
        let normalize = normalize ?? settings?.normalize ?? false
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
                embedding: try embedding(
                    output.embedding(ofRow: item, in: batch, pooling: pooling, normalize: false), dense: dense,
                    normalize: normalize),
                lastHiddenState: stride(from: states.startIndex, to: states.endIndex, by: hidden).map {
                    Array(states[$0..<($0 + hidden)])
                },
                poolerOutput: output.poolerOutput.map { Array($0[(item * hidden)..<((item + 1) * hidden)]) }
            )
        }
        return Results(texts: results, pooling: pooling, normalized: normalize, forwardTimes: times.sorted())
    }

    /// `pooled` through the `dense` modules (sentence-transformers' order: pooling, Dense,
    /// Normalize), then normalized when asked.
    private func embedding(_ pooled: [Float], dense: [DenseModule], normalize: Bool) throws -> [Float] {
        let projected = try dense.reduce(pooled) { try $1.apply($0) }
        return normalize ? BertModelOutput.normalized(projected) : projected
    }

    /// One text's score against a query.
    public struct Score: Sendable {
        public let text: String
        /// The head's raw logits for the pair (one for a cross-encoder).
        public let logits: [Float]
        /// sigmoid(logit) for a one-label head, as sentence-transformers' `CrossEncoder` reports
        /// by default; `nil` for several labels (their logits are the answer).
        public let score: Float?
        /// How many tokens truncation removed from the pair (0 when it fit).
        public let truncatedCount: Int
    }

    /// Scores each of `texts` against `query` with the model's classification head: each pair
    /// (`query`, text) is encoded as the tokenizer encodes pairs, all in one padded batch.
    ///
    /// - Throws: ``ModelError/noClassificationHead(model:)`` when the model has no head,
    ///   ``TokenizerError/emptyBatch`` for no texts, or what the forward pass throws.
    public func rerank(query: String, texts: [String], threads: ComputeThreads = ComputeThreads()) async throws
        -> [Score]
    {
        guard let labels = headLabelCount else {
            throw ModelError.noClassificationHead(model: "this \(configuration.modelType) model")
        }
        let encodings = try texts.map { try tokenizer.encode(query, pair: $0) }
        let output = try await forward(try tokenizer.encodeBatch(encodings), threads)
        guard let logits = output.logits else { throw ModelError.noClassificationHead(model: "the model") }
        return texts.indices.map { item in
            let row = Array(logits[(item * labels)..<((item + 1) * labels)])
            return Score(
                text: texts[item], logits: row, score: labels == 1 ? 1 / (1 + Foundation.exp(-row[0])) : nil,
                truncatedCount: encodings[item].truncatedCount)
        }
    }
}
