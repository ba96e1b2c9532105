import Foundation
import Logging

/// A BERT model whose encoder layers stream from a weight server, an S3 bucket, an HTTP server
/// or a directory (a ``ChunkTransport``) as the forward pass needs them.
///
/// Nothing is local: the manifest, configuration, tokenizer files, embeddings and pooler come
/// from the source at start (embeddings and pooler stay resident). Encoder layers live in an LRU
/// of ``cacheSize`` layers; while layer i computes, layers i+1 ... i+``prefetchDepth`` are
/// fetched, so the network overlaps the math. A layer already in flight is awaited, never
/// fetched twice. Every object's SHA-256 is checked against the manifest before use; a failed
/// fetch is retried with backoff and a new connection, then fails naming the object. The math
/// is ``BertForwardPass``, the same as the local ``BertModel``'s.
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

        enum CodingKeys: String, CodingKey {
            case totalInferences = "total_inferences"
            case avgInferenceTime = "avg_inference_time"
            case cacheHitRate = "cache_hit_rate"
            case bytesFetched = "bytes_fetched"
            case fetchTime = "fetch_time"
            case prefetchHits = "prefetch_hits"
            case layerFetches = "layer_fetches"
        }
    }

    private struct Counters {
        var inferences = 0
        var inferenceSeconds = 0.0
        var layerRequests = 0
        var layerHits = 0
        var prefetchHits = 0
        var layerFetches = 0
        /// Layers being fetched ahead of the forward pass, not yet in the cache.
        var ahead: [Int: Task<BertLayer, any Error>] = [:]
    }

    public let configuration: BertConfiguration
    public let tokenizer: BertTokenizer
    public let source: RemoteTensorSource
    /// The kernels the model computes with.
    public let kernels: KernelSet
    /// Encoder layers kept in memory.
    public let cacheSize: Int
    /// Layers fetched ahead of the one computing.
    public let prefetchDepth: Int
    private let embeddings: BertEmbeddings
    private let pooler: BertPooler?
    private let layers: LoadingCache<Int, BertLayer>
    private let counters = Locked(Counters())
    /// The float32 bytes of one encoder layer's weights.
    private let layerBytes: Int
    /// Bounds the layers being received and built at once.
    ///
    /// Two fetches in flight keep both the network and the hashing busy, but each holds its
    /// received bytes beside the layer being built from them: small layers (MiniLM's 7 MB) go
    /// two at a time, large ones (BERT-large's 48 MiB) one at a time.
    private let fetchBudget: ByteBudget

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
    ///   and ``RemoteTensorSource/init(transport:)`` throw.
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
        self.kernels = kernels
        self.source = source
        self.configuration = configuration
        self.cacheSize = cacheSize
        self.prefetchDepth = prefetchDepth
        // The tokenizer's files come first (small, all asked for at once), so parsing them
        // overlaps the large transfers; then the embeddings, the pooler and the first layers
        // are asked for together, pipelined on one connection.
        let tokenizerFiles = try await source.tokenizerFiles()
        async let loadedTokenizer = BertTokenizer(
            files: tokenizerFiles, location: source.transport.location,
            maximumPositions: configuration.maximumPositions)
        let budget = ByteBudget(limit: 64 << 20)
        fetchBudget = budget
        // With prefetch on, the first layers start at once: as many as may be held (the cache
        // is empty, and they are the first the forward pass needs).
        let earlyCount = prefetchDepth == 0 ? 0 : min(cacheSize + prefetchDepth, configuration.layerCount)
        let early = (0..<earlyCount).map { index in
            (
                index,
                Task(
                    operation: Self.loader(
                        index, source: source, configuration: configuration, kernels: kernels, budget: budget))
            )
        }
        async let embeddingTensors = source.tensors(of: .embeddings)
        async let poolerTensors: ComponentTensors? =
            source.manifest.chunks[ModelComponent.pooler.name] == nil ? nil : source.tensors(of: .pooler)
        do {
            embeddings = try BertEmbeddings(try await embeddingTensors, configuration: configuration, kernels: kernels)
            pooler = try await poolerTensors.map { try BertPooler($0, configuration: configuration, kernels: kernels) }
            tokenizer = try await loadedTokenizer
        } catch {
            for (_, task) in early { task.cancel() }
            throw error
        }
        layers = LoadingCache(capacity: cacheSize) { _ in 1 }
        layerBytes =
            (source.manifest.chunks[ModelComponent.layer(0).name]?.tensors.values ?? [:].values).reduce(0) {
                $0 + $1.shape.reduce(1, *) * 4
            }
        counters.withLock { counters in
            for (index, task) in early {
                counters.ahead[index] = task
                counters.layerFetches += 1
            }
        }
    }

    /// Fetches `indices` into the cache now (at most ``cacheSize`` stay); not counted as
    /// inference requests in ``inferenceStats``.
    public func warmup(_ indices: [Int]) async throws {
        for index in indices where (0..<configuration.layerCount).contains(index) {
            _ = try await layer(index, counted: false)
        }
    }

    /// Runs the model on `batch`, fetching layers as it goes.
    ///
    /// - Throws: ``ModelError`` for a bad batch or a damaged layer, ``WeightClient/Failure`` when
    ///   a layer could not be fetched after every retry.
    public func forward(_ batch: EncodedBatch, threads: ComputeThreads = ComputeThreads()) async throws
        -> BertModelOutput
    {
        let start = DispatchTime.now().uptimeNanoseconds
        let pass = try BertForwardPass(batch: batch, configuration: configuration, threads: threads, kernels: kernels)
        try pass.embed(embeddings)
        let count = configuration.layerCount
        for index in 0..<count {
            for next in (index + 1)..<min(count, index + 1 + prefetchDepth) { prefetch(next) }
            try pass.apply(try await layer(index))
        }
        let output = try pass.finish(pooler: pooler)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        counters.withLock {
            $0.inferences += 1
            $0.inferenceSeconds += seconds
        }
        return output
    }

    /// Starts fetching layer `index` unless it is cached or on its way.
    ///
    /// A prefetched layer waits outside the LRU until the forward pass takes it, so it cannot
    /// be evicted before its turn. Room is made first: the least recently used layers go now
    /// rather than when the prefetched one is used (which would evict them anyway), so at most
    /// ``cacheSize`` + ``prefetchDepth`` layers are held, counting those on their way.
    private func prefetch(_ index: Int) {
        guard !layers.isCachedOrLoading(index) else { return }
        counters.withLock { counters in
            guard counters.ahead[index] == nil else { return }
            while layers.storage.count + counters.ahead.count >= cacheSize + prefetchDepth,
                layers.storage.removeLeastRecentlyUsed() != nil
            {}
            counters.layerFetches += 1
            counters.ahead[index] = Task { try await self.loader(index)() }
        }
    }

    /// Layer `index`: from the cache, from a prefetch, or fetched now; `counted` adds the
    /// request to ``inferenceStats``.
    private func layer(_ index: Int, counted: Bool = true) async throws -> BertLayer {
        if let pending = counters.withLock({ $0.ahead.removeValue(forKey: index) }) {
            let layer = try await pending.value
            layers.storage.insert(layer, for: index, cost: 1)
            if counted {
                counters.withLock {
                    $0.layerRequests += 1
                    $0.prefetchHits += 1
                }
            }
            return layer
        }
        let (layer, outcome) = try await layers.value(for: index, load: loader(index))
        counters.withLock {
            if outcome == .loaded { $0.layerFetches += 1 }
            if counted {
                $0.layerRequests += 1
                if outcome == .hit { $0.layerHits += 1 }
            }
        }
        return layer
    }

    /// Fetches and builds layer `index` within ``fetchBudget``: the received bytes are held
    /// until the layer is built from them.
    private func loader(_ index: Int) -> @Sendable () async throws -> BertLayer {
        Self.loader(index, source: source, configuration: configuration, kernels: kernels, budget: fetchBudget)
    }

    private static func loader(
        _ index: Int, source: RemoteTensorSource, configuration: BertConfiguration, kernels: KernelSet,
        budget: ByteBudget
    ) -> @Sendable () async throws -> BertLayer {
        let bytes = source.manifest.chunks[ModelComponent.layer(index).name]?.size ?? 0
        return {
            try await budget.run(bytes: bytes) {
                try BertLayer(
                    try await source.tensors(of: .layer(index)), configuration: configuration, kernels: kernels)
            }
        }
    }

    public var cacheInfo: CacheInfo {
        let order = layers.storage.keysByRecency.map { ModelComponent.layer($0).name }
        return CacheInfo(
            cachedComponents: order.sorted(), cacheSize: order.count, maxCacheSize: cacheSize, accessOrder: order,
            memoryUsageMB: Double(order.count * layerBytes) / 1_048_576)
    }

    public var inferenceStats: InferenceStats {
        let counts = counters.withLock { $0 }
        let transfer = source.transferred
        return InferenceStats(
            totalInferences: counts.inferences,
            avgInferenceTime: counts.inferences == 0 ? 0 : counts.inferenceSeconds / Double(counts.inferences),
            cacheHitRate: counts.layerRequests == 0 ? 0 : Double(counts.layerHits) / Double(counts.layerRequests),
            bytesFetched: transfer.bytes, fetchTime: transfer.seconds, prefetchHits: counts.prefetchHits,
            layerFetches: counts.layerFetches)
    }
}
