import Foundation
import Logging

/// A BERT model whose encoder layers stream from a weight server, an S3 bucket, an HTTP server
/// or a directory (a ``ChunkTransport``) as the forward pass needs them: the Python tool's
/// `StreamingBertModel`.
///
/// Nothing is local: the manifest, configuration, tokenizer files, embeddings and pooler come
/// from the source at start (embeddings and pooler stay resident). The model itself is a
/// ``BertModel`` over `StreamedLayers` (an LRU of ``cacheSize`` layers, ``prefetchDepth``
/// fetched ahead while one computes), so the math is the local model's. Every object's SHA-256
/// is checked against the manifest before use; a failed fetch is retried with backoff and a new
/// connection, then fails naming the object. This type adds the Python tool's statistics.
public final class StreamingBertModel: Sendable {
    /// The Python tool's `get_cache_info()` keys.
    public struct CacheInfo: Sendable, Codable, Equatable {
        public var cachedComponents: [String]
        public var cacheSize: Int
        public var maxCacheSize: Int
        /// Least recently used first.
        public var accessOrder: [String]
        public var memoryUsageMB: Double

        enum CodingKeys: String, CodingKey {
            case cachedComponents = "cached_components"
            case cacheSize = "cache_size"
            case maxCacheSize = "max_cache_size"
            case accessOrder = "access_order"
            case memoryUsageMB = "memory_usage_mb"
        }
    }

    /// The Python tool's `get_inference_stats()` keys, plus what the fetching cost.
    public struct InferenceStats: Sendable, Codable, Equatable {
        public var totalInferences: Int
        /// Seconds.
        public var avgInferenceTime: Double
        /// The share of layer requests answered from the layers already held: a layer fetched
        /// for this request, or ahead of it by a prefetch (``prefetchHits``), is not a hit.
        public var cacheHitRate: Double
        public var bytesFetched: Int
        /// Seconds spent waiting for objects, summed over concurrent fetches.
        public var fetchTime: Double
        /// Layer requests answered by a prefetch: fetched, or on their way, ahead of the request.
        public var prefetchHits: Int
        public var layerFetches: Int
        /// Seconds the forward passes spent waiting for a layer that was not yet here: zero
        /// when fetching keeps ahead of computing.
        public var layerWaitTime: Double

        enum CodingKeys: String, CodingKey {
            case totalInferences = "total_inferences"
            case avgInferenceTime = "avg_inference_time"
            case cacheHitRate = "cache_hit_rate"
            case bytesFetched = "bytes_fetched"
            case fetchTime = "fetch_time"
            case prefetchHits = "prefetch_hits"
            case layerFetches = "layer_fetches"
            case layerWaitTime = "layer_wait_time"
        }
    }

    /// Forward passes run so far, and their total time in seconds.
    private let inferences = Locked<(count: Int, seconds: Double)>((0, 0))

    public let configuration: BertConfiguration
    public let tokenizer: any TextTokenizer
    /// The sentence-transformers settings the chunk set carries, if any
    /// (``RemoteTensorSource/sentenceEmbeddingSettings()``).
    public let sentenceEmbedding: Result<SentenceEmbeddingSettings, SentenceEmbeddingError>?
    public let source: RemoteTensorSource
    /// The model: embeddings and pooler resident, layers streamed.
    public let model: BertModel
    /// The kernels the model computes with.
    public var kernels: KernelSet { model.kernels }
    /// Encoder layers kept in memory.
    public var cacheSize: Int { layers.cacheSize }
    /// Layers fetched ahead of the one computing.
    public var prefetchDepth: Int { layers.prefetchDepth }
    private let layers: StreamedLayers
    /// The float32 bytes of one encoder layer's weights.
    private let layerBytes: Int

    /// Connects to `serverURL` and loads everything but the encoder layers.
    ///
    /// - Throws: ``WeightClient/Failure`` when no server answers (one sentence saying how to
    ///   start one), ``ModelError`` for a damaged object or invalid configuration.
    public convenience init(
        serverURL: String,
        cacheSize: Int = 2,
        prefetchDepth: Int = 1,
        authToken: String? = nil,
        tls: TLSStream.Context? = nil,
        logger: Logger? = nil
    ) async throws {
        var configuration = WeightClient.Configuration(url: serverURL)
        configuration.authToken = authToken
        configuration.tls = tls
        try await self.init(
            client: WeightClient(configuration: configuration, logger: logger), cacheSize: cacheSize,
            prefetchDepth: prefetchDepth)
    }

    /// Loads everything but the encoder layers from `source` (`ws://`, `wss://`, `s3://`,
    /// `http(s)://`, `file://` or a path; see ``ChunkSource``).
    ///
    /// - Throws: ``ChunkSourceError`` for a URL that cannot be used, then what the transport
    ///   and ``RemoteTensorSource/init(transport:logger:)`` throw.
    public convenience init(
        source: String, options: ChunkSource.Options = ChunkSource.Options(), cacheSize: Int = 2,
        prefetchDepth: Int = 1
    ) async throws {
        try await self.init(
            transport: try ChunkSource(source).transport(options), cacheSize: cacheSize, prefetchDepth: prefetchDepth,
            logger: options.logger)
    }

    /// Loads everything but the encoder layers through `client`.
    public convenience init(client: WeightClient, cacheSize: Int = 2, prefetchDepth: Int = 1) async throws {
        try await self.init(
            transport: WeightServerTransport(client: client), cacheSize: cacheSize, prefetchDepth: prefetchDepth)
    }

    /// Loads everything but the encoder layers through `transport`.
    ///
    /// `logger` hears of each object fetched. The layers are packed for `kernels` (by default
    /// ``KernelSet/selected(environment:)``).
    ///
    /// - Throws: ``KernelSetError`` for a kernel set the CPU cannot run, what
    ///   ``RemoteTensorSource/init(transport:logger:)`` throws, or ``ModelError``.
    public init(
        transport: any ChunkTransport, cacheSize: Int = 2, prefetchDepth: Int = 1, logger: Logger? = nil,
        kernels: KernelSet? = nil
    ) async throws {
        precondition(cacheSize >= 1 && prefetchDepth >= 0, "cacheSize must be at least 1, prefetchDepth at least 0")
        let kernels = try kernels ?? KernelSet.selected()
        let source = try await RemoteTensorSource(transport: transport, logger: logger)
        let configuration = try await source.configuration()
        self.source = source
        self.configuration = configuration
        // The tokenizer's files come first (small, all asked for at once), so parsing them
        // overlaps the large transfers; then the embeddings, the pooler and the first layers
        // are asked for together, pipelined on one connection.
        let tokenizerFiles = try await source.tokenizerFiles()
        sentenceEmbedding = try await source.sentenceEmbeddingSettings()
        async let loadedTokenizer = TokenizerLoader.load(
            files: tokenizerFiles, location: source.transport.location,
            maximumPositions: configuration.maximumSequenceLength)
        // Bounds the layers being received and built at once: two fetches in flight keep both
        // the network and the hashing busy, but each holds its received bytes beside the layer
        // being built from them, so small layers (MiniLM's 7 MB) go two at a time, large ones
        // (BERT-large's 48 MiB) one at a time.
        let budget = ByteBudget(limit: 64 << 20)
        let layers = StreamedLayers(
            count: configuration.layerCount, cacheSize: cacheSize, prefetchDepth: prefetchDepth
        ) { index in
            let bytes = source.manifest.chunks[ModelComponent.layer(index).name]?.size ?? 0
            return try await budget.run(bytes: bytes) {
                let tensors = try await source.tensors(of: .layer(index))
                return try StageClock.measure(.pack) {
                    try BertLayer(tensors, configuration: configuration, kernels: kernels, weights: .stored)
                }
            }
        }
        self.layers = layers
        async let embeddingTensors = source.tensors(of: .embeddings)
        async let headTensors: ComponentTensors? =
            source.manifest.chunks[ModelComponent.head.name] == nil ? nil : source.tensors(of: .head)
        async let sharedTensors: ComponentTensors? =
            configuration.relativeAttentionBuckets == nil ? nil : source.tensors(of: .shared)
        async let poolerTensors: ComponentTensors? =
            source.manifest.chunks[ModelComponent.pooler.name] == nil ? nil : source.tensors(of: .pooler)
        do {
            let embeddings = try BertEmbeddings(
                try await embeddingTensors, configuration: configuration, kernels: kernels)
            let pooler = try await poolerTensors.map {
                try BertPooler($0, configuration: configuration, kernels: kernels)
            }
            let positionBias = try await sharedTensors.map {
                try RelativePositionBias($0, configuration: configuration)
            }
            let head = try await headTensors.map {
                try SequenceClassificationHead(
                    $0, configuration: configuration, hasPooler: pooler != nil, kernels: kernels)
            }
            model = BertModel(
                configuration: configuration, embeddings: embeddings, positionBias: positionBias, layers: layers,
                pooler: pooler, head: head, kernels: kernels)
            tokenizer = try await loadedTokenizer
        } catch {
            layers.cancel()
            throw error
        }
        layerBytes =
            (source.manifest.chunks[ModelComponent.layer(0).name]?.tensors.values ?? [:].values).reduce(0) {
                $0 + $1.shape.reduce(1, *) * 4
            }
    }

    /// Fetches `indices` into the cache now (at most ``cacheSize`` stay); not counted as
    /// inference requests in ``inferenceStats``.
    public func warmup(_ indices: [Int]) async throws {
        try await layers.warmup(indices)
    }

    /// Runs the model on `batch`, fetching layers as it goes.
    ///
    /// - Throws: ``ModelError`` for a bad batch or a damaged layer, ``WeightClient/Failure`` when
    ///   a layer could not be fetched after every retry.
    public func forward(_ batch: EncodedBatch, threads: ComputeThreads = ComputeThreads()) async throws
        -> BertModelOutput
    {
        let start = DispatchTime.now().uptimeNanoseconds
        let output = try await model.forward(batch, threads: threads)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        inferences.withLock {
            $0.count += 1
            $0.seconds += seconds
        }
        return output
    }

    public var cacheInfo: CacheInfo {
        let order = layers.heldByRecency.map { ModelComponent.layer($0).name }
        return CacheInfo(
            cachedComponents: order.sorted(), cacheSize: order.count, maxCacheSize: cacheSize, accessOrder: order,
            memoryUsageMB: Double(order.count * layerBytes) / 1_048_576)
    }

    public var inferenceStats: InferenceStats {
        let (count, seconds) = inferences.withLock { $0 }
        let layerCounts = layers.counts
        let transfer = source.transferred
        return InferenceStats(
            totalInferences: count,
            avgInferenceTime: count == 0 ? 0 : seconds / Double(count),
            cacheHitRate: layerCounts.requests == 0 ? 0 : Double(layerCounts.cacheHits) / Double(layerCounts.requests),
            bytesFetched: transfer.bytes, fetchTime: transfer.seconds, prefetchHits: layerCounts.prefetchHits,
            layerFetches: layerCounts.fetches, layerWaitTime: layerCounts.waitSeconds)
    }
}
