import Foundation
import Logging

/// Serves a chunk set (docs/FORMAT.md) over the `streaming-weights.v1` protocol (docs/PROTOCOL.md).
///
/// Names are looked up in the manifest, never joined into a path: a request can reach only the
/// objects the manifest lists. Stored bytes go through a byte-bounded LRU cache that loads each
/// object once however many clients ask for it at the same time. Each connection has a reader
/// thread (requests) and a writer thread (responses); storage reads run as tasks on the server's
/// own executor (``DispatchTaskExecutor``), so neither a slow store nor a slow client holds up the
/// others, and nothing else in the process can starve the server.
public final class WeightServer: Sendable {
    /// What the server accepts and how much it holds.
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8765
        /// The most stored bytes kept in memory.
        public var cacheBytes = 1 << 30
        /// When set, the upgrade request must carry `Authorization: Bearer <token>` (else HTTP 401).
        public var authToken: String?
        /// Serve `wss://` when set.
        public var tls: TLSStream.Context?
        public var maximumConnections = 256
        /// Requests per second allowed on one connection, with bursts of as many (0: no limit).
        public var requestsPerSecond: Double = 1000
        /// Requests of one connection being answered at once; more wait to be read.
        public var maximumPipelinedRequests = 16
        /// Stored bytes held for responses in flight (being read or sent), each object counted
        /// once however many responses share it; past it, requests are answered `rate_limited`
        /// until some are sent (one object alone is always served, however large).
        public var maximumInFlightBytes = 2 << 30
        /// Keepalive, idle, close and send timeouts of the connections.
        public var timeouts = WebSocketConnection.Timeouts()
        /// At start, read every object and check its SHA-256 (and each chunk's tensor list)
        /// against the manifest, not only that it exists with its size.
        public var verifyOnStart = false

        public init() {}
    }

    /// The server's counters (the `stats` request returns them as JSON).
    public struct Statistics: Sendable, Codable, Equatable {
        public var requests = 0
        /// Requests answered with an error.
        public var errors = 0
        public var bytesServed = 0
        /// Objects answered from the cache.
        public var cacheHits = 0
        /// Objects read from storage (a request that joined a read in flight counts as a hit).
        public var cacheMisses = 0
        public var cachedBytes = 0
        public var connections = 0

        enum CodingKeys: String, CodingKey {
            case requests, errors, connections
            case bytesServed = "bytes_served"
            case cacheHits = "cache_hits"
            case cacheMisses = "cache_misses"
            case cachedBytes = "cached_bytes"
        }
    }

    /// An object a request can name.
    struct Entry {
        let key: String
        let size: Int
        let sha256: String
        var blake3: String? = nil
        let encoding: String
    }

    public let manifest: ChunkManifest
    public let configuration: Configuration
    private let storage: any StorageBackend
    /// `chunk_info.json` as stored, read once at start.
    private let manifestBytes: ByteStorage
    private let manifestDigest: String
    private let cache: LoadingCache<String, ByteStorage>
    private let server: WebSocketServer
    private let logger: Logger?
    private let counters = Locked(Statistics())
    /// The last health check: when (uptime nanoseconds) and what it found.
    private let health = Locked<(checked: UInt64, problem: String?)?>(nil)
    private let inFlight: InFlightBytes
    /// Where requests are answered and storage read: threads of the server's own, never Swift's
    /// cooperative pool, so a process hosting the server (a test, an app) cannot starve it.
    private let executor = DispatchTaskExecutor(label: "weight-server requests")
    /// Whether the chunk set is the Python tool's (`.pt` files), whose clients' `GET layer 0`
    /// requests are answered (``LegacyChunkSet``).
    public let servesLegacyChunks: Bool

    /// Reads the manifest from `storage`, checks that every object it lists is there with its
    /// size (and its SHA-256, with ``Configuration/verifyOnStart``), and starts listening.
    ///
    /// - Throws: ``ChunkingError`` when the manifest is missing or invalid or an object is
    ///   missing, short or damaged (naming it), or the socket's failure naming the address (for
    ///   example, a port already in use).
    public init(storage: any StorageBackend, configuration: Configuration, logger: Logger? = nil) async throws {
        var bytes = try await storage.read(ChunkManifest.fileName).withUnsafeBytes { Array($0) }
        if let legacy = try await LegacyChunkSet.manifest(legacyJSON: bytes, storage: storage) {
            // The Python tool's chunk set: our clients get the manifest built from its files.
            manifest = legacy
            bytes = try legacy.encoded()
            servesLegacyChunks = true
        } else {
            manifest = try ChunkManifest(json: bytes, source: ChunkManifest.fileName)
            servesLegacyChunks = false
        }
        manifestBytes = ByteStorage(keeping: bytes[...])
        manifestDigest = Digest.sha256(bytes).hexString
        if let problem = try await Self.missingObject(of: manifest, in: storage) { throw problem }
        if configuration.verifyOnStart, !servesLegacyChunks {
            // A Python chunk set was read and hashed whole just now (LegacyChunkSet).
            var problems: [any Error] = []
            for problem in try await ChunkVerifier(storage: storage).verify() {
                if case ChunkingError.unlistedFile = problem {
                    logger?.warning("\(problem)")
                } else {
                    problems.append(problem)
                }
            }
            if let first = problems.first { throw first }
        }
        self.configuration = configuration
        self.storage = storage
        self.logger = logger
        cache = LoadingCache(capacity: configuration.cacheBytes, executor: executor) { $0.count }
        inFlight = InFlightBytes(limit: configuration.maximumInFlightBytes)
        var socket = WebSocketServer.Configuration()
        socket.host = configuration.host
        socket.port = configuration.port
        socket.maximumConnections = configuration.maximumConnections
        socket.subprotocols = [WireMessage.subprotocol]
        socket.tls = configuration.tls
        socket.timeouts = configuration.timeouts
        // A request is small; a larger message gets `too_large` while it fits here, 1009 beyond.
        socket.maximumMessageSize = 16 << 20
        socket.maximumFrameSize = 16 << 20
        let token = configuration.authToken
        socket.authorize = { request in
            guard let token else { return nil }
            guard let given = request.header("authorization") else {
                return (401, "this weight server needs Authorization: Bearer <token>")
            }
            return constantTimeEqual(given, "Bearer " + token) ? nil : (401, "the bearer token is not the server's")
        }
        let box = Box()
        // A proxy's or orchestrator's probes: health (open to load balancers), and the
        // counters as JSON (behind the token when there is one).
        socket.plainGet = { request in
            let text = "text/plain; charset=utf-8"
            switch request.path {
            case "/healthz":
                guard let server = box.server else { return nil }
                if let problem = server.healthProblem() {
                    return .init(status: 503, contentType: text, body: Array("unhealthy: \(problem)\n".utf8))
                }
                return .init(contentType: text, body: Array("ok\n".utf8))
            case "/stats":
                if let token, !constantTimeEqual(request.headers["authorization"] ?? "", "Bearer " + token) {
                    return .init(
                        status: 401, contentType: text,
                        body: Array("GET /stats needs Authorization: Bearer <token>\n".utf8))
                }
                return box.server.map { .init(contentType: "application/json", body: $0.statisticsJSON) }
            default:
                return nil
            }
        }
        server = try WebSocketServer(configuration: socket) { connection in box.server?.serve(connection) }
        box.server = self
        server.start()
        logger?.info(
            "serving \(manifest.modelName) (\(manifest.chunks.count) chunks) on \(configuration.tls == nil ? "ws" : "wss")://\(configuration.host):\(server.port)"
        )
    }

    /// The first object the manifest lists that `storage` lacks or holds at another size, as
    /// the error that names it; `nil` when every one is there.
    static func missingObject(of manifest: ChunkManifest, in storage: any StorageBackend) async throws
        -> ChunkingError?
    {
        let expected =
            manifest.chunks.values.map { ($0.file, $0.size) } + manifest.files.map { ($0.key, $0.value.size) }
        return try await withThrowingTaskGroup(of: ChunkingError?.self) { group in
            for (file, size) in expected.sorted(by: { $0.0 < $1.0 }) {
                group.addTask {
                    guard let actual = try await storage.size(of: file) else {
                        return ChunkingError.missingFile(file, location: storage.location)
                    }
                    return actual == size ? nil : ChunkingError.sizeMismatch(file: file, expected: size, actual: actual)
                }
            }
            var problems: [ChunkingError] = []
            for try await problem in group { if let problem { problems.append(problem) } }
            return problems.min { "\($0)" < "\($1)" }
        }
    }

    /// What makes the server unable to serve its chunk set now (its storage unreadable, an
    /// object gone or changed in size), or `nil` when it can; checked at most once a second.
    ///
    /// Blocks the calling thread (a connection's) while storage answers.
    func healthProblem() -> String? {
        let now = DispatchTime.now().uptimeNanoseconds
        // Concurrent probes may store a check started after `now`: that one is fresh too.
        if let last = health.withLock({ $0 }), now < last.checked + 1_000_000_000 { return last.problem }
        let result = Locked<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        let (manifest, storage) = (self.manifest, self.storage)
        Task(executorPreference: executor) {
            do {
                if let problem = try await Self.missingObject(of: manifest, in: storage) {
                    result.withLock { $0 = "\(problem)" }
                }
            } catch {
                result.withLock { $0 = "\(storage.location) cannot be read: \(error)" }
            }
            done.signal()
        }
        done.wait()
        let problem = result.withLock { $0 }
        if let problem { logger?.error("unhealthy: \(problem)") }
        // A check that started earlier than the stored one and ended later must not replace it.
        health.withLock { if now >= $0?.checked ?? 0 { $0 = (now, problem) } }
        return problem
    }

    /// Lets the socket handler reach the server it belongs to once both exist.
    private final class Box: @unchecked Sendable {
        weak var server: WeightServer?
    }

    /// The port the server listens on.
    public var port: Int { server.port }

    public var statistics: Statistics {
        var statistics = counters.withLock { $0 }
        let cacheCounts = cache.statistics
        statistics.cacheHits = cacheCounts.hits + cacheCounts.joined
        statistics.cacheMisses = cacheCounts.loads
        statistics.cachedBytes = cache.storage.totalCost
        statistics.connections = server.openConnections
        return statistics
    }

    /// ``statistics`` as JSON, keys sorted (the `stats` request's and `GET /stats`'s answer).
    public var statisticsJSON: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(statistics)) ?? Data())
    }

    /// Stops gracefully (``WebSocketServer/stop(gracePeriod:)``): clients get close 1001.
    public func stop(gracePeriod: Double = 5) {
        server.stop(gracePeriod: gracePeriod)
    }

    /// The object `name` names: the manifest, a chunk or one of the manifest's files.
    func entry(named name: String) -> Entry? {
        if name == ChunkManifest.fileName {
            return Entry(key: name, size: manifestBytes.count, sha256: manifestDigest, encoding: "identity")
        }
        if let chunk = manifest.chunks[name] {
            return Entry(
                key: chunk.file, size: chunk.size, sha256: chunk.sha256, blake3: chunk.blake3,
                encoding: chunk.file.hasSuffix(".gz") ? "gzip" : "identity")
        }
        if let file = manifest.files[name] {
            return Entry(key: name, size: file.size, sha256: file.sha256, blake3: file.blake3, encoding: "identity")
        }
        return nil
    }

    /// Reads one connection's requests until it closes; answers go through its writer.
    private func serve(_ connection: WebSocketConnection) {
        let writer = ResponseWriter(connection: connection)
        var limiter = TokenBucket(rate: configuration.requestsPerSecond)
        let slots = DispatchSemaphore(value: configuration.maximumPipelinedRequests)
        let pending = DispatchGroup()
        // Each request is answered by a task, at most `maximumPipelinedRequests` at once.
        func dispatch(_ work: @escaping @Sendable () async -> Void) {
            slots.wait()
            pending.enter()
            Task(executorPreference: executor) {
                defer {
                    slots.signal()
                    pending.leave()
                }
                await work()
            }
        }
        while let message = try? connection.receive() {
            guard case .text(let text) = message else {
                answer(
                    writer, id: nil, WireError(code: .badRequest, message: "requests are text messages holding JSON"))
                continue
            }
            if let legacy = LegacyChunkSet.request(text) {
                guard limiter.take() else {
                    answerLegacy(writer, failure: "rate limited: try again")
                    continue
                }
                dispatch { await self.respond(toLegacy: legacy, with: writer) }
                continue
            }
            let request: WireMessage.Request
            do {
                request = try WireMessage.Request(parsing: text)
            } catch {
                answer(writer, id: error.id, error)
                continue
            }
            guard limiter.take() else {
                answer(
                    writer, id: request.id,
                    WireError(
                        code: .rateLimited,
                        message:
                            "more than \(Int(configuration.requestsPerSecond)) requests per second on one connection"))
                continue
            }
            dispatch { await self.respond(to: request, with: writer) }
        }
        _ = pending.wait(timeout: .now() + 10)
        writer.finish()
    }

    private func answer(_ writer: ResponseWriter, id: Int?, _ error: WireError) {
        counters.withLock {
            $0.requests += 1
            $0.errors += 1
        }
        logger?.debug("request \(id.map(String.init) ?? "without id"): \(error)")
        let response = WireMessage.errorResponse(id: id, error)
        writer.enqueue { try $0.send(binary: response) }
    }

    private func respond(to request: WireMessage.Request, with writer: ResponseWriter) async {
        switch request.operation {
        case .stats:
            let bytes = statisticsJSON
            let entry = Entry(
                key: "stats", size: bytes.count, sha256: Digest.sha256(bytes).hexString, encoding: "identity")
            send(request, entry: entry, bytes: ByteStorage(keeping: bytes[...]), to: writer)
        case .manifest, .get:
            let name = request.operation == .manifest ? ChunkManifest.fileName : request.name ?? ""
            guard let entry = entry(named: name) else {
                return answer(
                    writer, id: request.id,
                    WireError(
                        code: .notFound, message: "no chunk or file named \(name.debugDescription) in the manifest"))
            }
            guard entry.key != ChunkManifest.fileName else {
                return send(request, entry: entry, bytes: manifestBytes, to: writer)
            }
            guard let reservation = inFlight.reserve(entry.key, bytes: entry.size) else {
                return answer(
                    writer, id: request.id,
                    WireError(
                        code: .rateLimited,
                        message:
                            "the server holds \(inFlight.held >> 20) MiB for responses in flight, its limit (--max-inflight-mb \(inFlight.limit >> 20)); try again"
                    ))
            }
            do {
                send(request, entry: entry, bytes: try await stored(entry.key), to: writer, holding: reservation)
            } catch {
                logger?.error("reading \(entry.key) failed: \(error)")
                answer(writer, id: request.id, WireError(code: .internal, message: "reading \(name) failed: \(error)"))
            }
        }
    }

    /// Answers the Python client's `GET layer 0` as the Python server did: one text message,
    /// JSON with the file's bytes in hex.
    private func respond(toLegacy request: LegacyChunkSet.Request, with writer: ResponseWriter) async {
        switch request {
        case .invalid(let message):
            answerLegacy(writer, failure: message)
        case .chunk(let name, let component):
            guard servesLegacyChunks else {
                return answerLegacy(
                    writer,
                    failure:
                        "this server serves a streaming-weights.v1 chunk set (safetensors); GET requests are answered for a directory of .pt chunks made by the Python tool"
                )
            }
            guard let entry = entry(named: name) else {
                return answerLegacy(writer, failure: "File not found: \(name).pt")
            }
            guard let reservation = inFlight.reserve(entry.key, bytes: entry.size) else {
                return answerLegacy(writer, failure: "the server is busy: try again")
            }
            do {
                let bytes = try await stored(entry.key)
                let text = bytes.withUnsafeBytes { LegacyChunkSet.answer(component: component, bytes: $0) }
                counters.withLock {
                    $0.requests += 1
                    $0.bytesServed += bytes.count
                }
                writer.enqueue { connection in
                    withExtendedLifetime(reservation) {}
                    try connection.send(text: text)
                }
            } catch {
                logger?.error("reading \(entry.key) failed: \(error)")
                answerLegacy(writer, failure: "reading \(entry.key) failed: \(error)")
            }
        }
    }

    /// Object `key` as stored, through the cache (one storage read however many ask at once).
    private func stored(_ key: String) async throws -> ByteStorage {
        let storage = self.storage
        return try await cache.value(for: key) { try await storage.read(key) }.0
    }

    private func answerLegacy(_ writer: ResponseWriter, failure message: String) {
        counters.withLock {
            $0.requests += 1
            $0.errors += 1
        }
        let text = LegacyChunkSet.failure(message)
        writer.enqueue { try $0.send(text: text) }
    }

    /// Answers with `bytes` (the whole object, or the requested range of it).
    private func send(
        _ request: WireMessage.Request, entry: Entry, bytes: ByteStorage, to writer: ResponseWriter,
        holding reservation: InFlightBytes.Reservation? = nil
    ) {
        let offset = request.offset ?? 0
        let length = request.length ?? max(0, bytes.count - offset)
        guard offset <= bytes.count, length <= bytes.count - offset else {
            return answer(
                writer, id: request.id,
                WireError(
                    code: .badRequest,
                    message:
                        "the range \(offset)..<\(offset + length) is past the end of \(request.name ?? entry.key) (\(bytes.count) bytes)"
                ))
        }
        let header = WireMessage.Header(
            id: request.id, name: request.name ?? entry.key, size: bytes.count, sha256: entry.sha256,
            blake3: entry.blake3, encoding: entry.encoding, offset: offset, length: length)
        let prefix = WireMessage.prefix(for: header)
        counters.withLock {
            $0.requests += 1
            $0.bytesServed += length
        }
        logger?.debug("request \(request.id): \(header.name) \(offset)+\(length)")
        writer.enqueue { connection in
            // Captured, so held until the writer lets go of this closure: after sending, or on
            // dropping it with a broken connection.
            withExtendedLifetime(reservation) {}
            try prefix.withUnsafeBytes { head in
                try bytes.withUnsafeBytes { body in
                    try connection.send(
                        binaryParts: [head, UnsafeRawBufferPointer(rebasing: body[offset..<(offset + length)])])
                }
            }
        }
    }
}

/// One connection's responses, sent in order by a thread of its own.
///
/// A client that reads slowly holds that thread and nothing else. The queue holds at most the connection's
/// pipelined requests, each a reference to cached bytes rather than a copy.
final class ResponseWriter: @unchecked Sendable {
    private let connection: WebSocketConnection
    private let condition = NSCondition()
    private var queue: [(WebSocketConnection) throws -> Void] = []
    private var finished = false

    init(connection: WebSocketConnection) {
        self.connection = connection
        let thread = Thread { [self] in run() }
        thread.name = "weight-server writer"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    func enqueue(_ send: @escaping (WebSocketConnection) throws -> Void) {
        condition.withLock {
            queue.append(send)
            condition.signal()
        }
    }

    /// Sends what is queued, then ends the thread.
    func finish() {
        condition.withLock {
            finished = true
            condition.signal()
        }
    }

    private func run() {
        while true {
            let next: ((WebSocketConnection) throws -> Void)? = condition.withLock {
                while queue.isEmpty && !finished { condition.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let next else { return }
            do {
                try StageClock.measure(.send) { try next(connection) }
            } catch {
                // The connection broke or closed: what is left cannot be delivered.
                condition.withLock { queue.removeAll() }
            }
        }
    }
}

/// Allows `rate` events per second on average, in bursts of up to `rate` (a token bucket).
struct TokenBucket {
    let rate: Double
    private var tokens: Double
    private var last = DispatchTime.now().uptimeNanoseconds

    init(rate: Double) {
        self.rate = rate
        tokens = rate
    }

    /// Whether one more event is allowed now (and counts it if so).
    mutating func take() -> Bool {
        guard rate > 0 else { return true }
        let now = DispatchTime.now().uptimeNanoseconds
        tokens = min(rate, tokens + Double(now - last) / 1e9 * rate)
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

/// Compares two secrets in time that does not depend on where they differ.
func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let (a, b) = (Array(lhs.utf8), Array(rhs.utf8))
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
        difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
    }
    return difference == 0
}
