import Foundation
import Logging
import Synchronization

/// A client of a weight server: one connection, requests pipelined over it, answers matched by
/// id, and a new connection (with backoff) when one fails.
public final class WeightClient: Sendable {
    /// Where the server is and how hard to try.
    public struct Configuration: Sendable {
        /// `ws://host:port` or `wss://host:port`.
        public var url: String
        /// Sent as `Authorization: Bearer <token>`.
        public var authToken: String?
        /// How to verify a `wss://` server (default: the system's CAs).
        public var tls: TLSStream.Context?
        /// Tries per request, reconnecting between them.
        public var attempts = 5
        /// The wait before the second try, in seconds, doubled for each one after.
        public var retryDelay = 0.2
        public var timeouts = WebSocketConnection.Timeouts()

        public init(url: String) {
            self.url = url
        }
    }

    /// What a request can end with besides an answer.
    public enum Failure: Error, CustomStringConvertible {
        /// No server answered at the URL (after every try).
        case unreachable(url: String, reason: String)
        /// The server refused the connection (HTTP 401: the token).
        case refused(url: String, reason: String)
        /// The connection ended before the answer came.
        case connectionLost(url: String)
        /// A response's header claimed more bytes than the caller expected (the manifest's
        /// size); it was refused before the rest arrived.
        case oversizedResponse(url: String, name: String, claimed: Int, expected: Int)
        /// TLS cannot work as configured (a certificate rejected, or TLS on one side only);
        /// `advice` says what to change. Trying again cannot help.
        case tls(url: String, problem: String, advice: String)

        public var description: String {
            switch self {
            case .unreachable(let url, let reason):
                "no weight server answers at \(url) (\(reason)); start one with: weight-server --chunks-dir DIR"
            case .refused(let url, let reason): "the weight server at \(url) refused the connection: \(reason)"
            case .tls(let url, let problem, let advice): "cannot connect to \(url): \(problem); \(advice)"
            case .connectionLost(let url): "the connection to the weight server at \(url) was lost"
            case .oversizedResponse(let url, let name, let claimed, let expected):
                "the weight server at \(url) answered \(name) with \(claimed) bytes where \(expected) were expected; "
                    + "refused before receiving them"
            }
        }
    }

    /// An object as the server sent it.
    public struct Object: Sendable {
        public var header: WireMessage.Header
        /// The payload, read from the socket straight into this 64-byte-aligned buffer (from
        /// ``BufferPool/shared``): the only copy made on this side.
        public var payload: ByteStorage
        /// The payload's digest by the algorithm asked for, computed as each piece arrived,
        /// while it was in the cache.
        public var payloadDigest: ContentDigest
    }

    /// What has arrived of an object: its bytes, and their digest so far.
    ///
    /// The bytes are in the buffer the rest goes into if the connection is lost before the
    /// end. `filled` is touched by one reader thread at a time, `hashed` and `digest` by that
    /// reader or its hashing queue, never both at once (``ResponseReceiver``); handed between
    /// links through a request's continuation, once the old link's queue is empty.
    final class PartialObject: @unchecked Sendable {
        /// The first response's header: the object's name, and the range asked for.
        let header: WireMessage.Header
        let memory: BufferPool.Memory
        /// The bytes of `memory` received.
        var filled = 0
        /// The bytes of `memory` hashed (at most `filled`).
        var hashed = 0
        let digest: StreamingDigest

        init(header: WireMessage.Header, algorithm: DigestAlgorithm) {
            self.header = header
            memory = BufferPool.shared.take(header.length)
            digest = StreamingDigest(algorithm)
        }

        /// Hashes the bytes from `hashed` to `end` (received already).
        func hash(upTo end: Int) {
            guard end > hashed else { return }
            StageClock.measure(.hash) {
                digest.update(UnsafeRawBufferPointer(rebasing: memory.buffer[hashed..<end]))
            }
            hashed = end
        }
    }

    /// A response cut off by a lost connection: what arrived of the object, so the rest can
    /// be asked for as a range and received after it.
    struct Interrupted: Error, @unchecked Sendable {
        let partial: PartialObject
    }

    /// What a request is answered with.
    fileprivate enum Answer: @unchecked Sendable {
        case object(Object)
        case failure(WireError)
    }

    /// What a request's answer must be: at most `length` payload bytes (when known), hashed
    /// with `algorithm`.
    struct Expectation: Sendable {
        var length: Int?
        var algorithm: DigestAlgorithm
    }

    /// One connection and the requests waiting on it.
    private final class Link: Sendable {
        let connection: WebSocketConnection
        let pending = Locked<[Int: CheckedContinuation<Answer, any Error>]?>([:])
        /// What each request's answer must be, by id.
        let expectations = Locked<[Int: Expectation]>([:])

        init(connection: WebSocketConnection) {
            self.connection = connection
        }

        /// Hands `answer` to whoever waits for its id.
        func deliver(_ answer: Answer, id: Int?) {
            guard let id else { return }
            let waiter = pending.withLock { $0?.removeValue(forKey: id) }
            waiter?.resume(returning: answer)
        }

        /// Fails the waiter for `id` alone.
        func fail(id: Int, _ error: any Error) {
            let waiter = pending.withLock { $0?.removeValue(forKey: id) }
            waiter?.resume(throwing: error)
        }

        /// Fails every waiter; later requests on this link fail at once.
        func end(_ error: any Error) {
            let waiters = pending.withLock { pending -> [CheckedContinuation<Answer, any Error>] in
                defer { pending = nil }
                return Array((pending ?? [:]).values)
            }
            for waiter in waiters { waiter.resume(throwing: error) }
        }
    }

    public let configuration: Configuration
    private let logger: Logger?
    private let link = Locked<Link?>(nil)
    /// Objects that resumed requests continue (``ResponseReceiver``), shared by every link.
    private let seeds = Locked<[Int: PartialObject]>([:])
    private let nextID = Atomic<Int>(1)
    private let connecting = AsyncLock()

    public init(configuration: Configuration, logger: Logger? = nil) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends a request and returns the object: its header, its payload and the payload's
    /// digest by `algorithm` (hashed beside the connection's reader thread piece by piece as
    /// the bytes arrived, so a large object's digest is ready soon after its last byte is).
    ///
    /// Retries on a lost or refused connection and on `rate_limited` or `internal` answers,
    /// waiting ``Configuration/retryDelay`` (doubling) between tries.
    /// - Parameter expectedLength: the most payload bytes the answer may have (the manifest's
    ///   size): a response whose header claims more is refused as soon as its header arrives.
    /// - Parameter algorithm: how to hash the payload: the manifest's digest's algorithm.
    /// - Throws: ``Failure`` when no connection could be made or kept or the answer was too
    ///   large, or the server's ``WireError`` (`not_found`, `bad_request`, ...) for the request.
    public func get(
        _ operation: WireMessage.Request.Operation, name: String? = nil, offset: Int? = nil, length: Int? = nil,
        expectedLength: Int? = nil, algorithm: DigestAlgorithm = .sha256
    ) async throws -> Object {
        var delay = configuration.retryDelay
        var attempt = 1
        // What arrived of the object before a connection was lost: the next try asks only for
        // the rest, received after it.
        var partial: PartialObject?
        while true {
            let id = nextID.add(1, ordering: .relaxed).oldValue
            do {
                defer { seeds.withLock { _ = $0.removeValue(forKey: id) } }
                var request = WireMessage.Request(
                    id: id, operation: operation, name: name, offset: offset, length: length)
                var expected = expectedLength
                if let partial {
                    request = WireMessage.Request(
                        id: id, operation: .get, name: partial.header.name,
                        offset: partial.header.offset + partial.filled, length: partial.header.length - partial.filled)
                    expected = expectedLength.map { $0 - partial.filled }
                    seeds.withLock { $0[id] = partial }
                }
                switch try await send(request, expectation: Expectation(length: expected, algorithm: algorithm)) {
                case .object(let object): return object
                case .failure(let error): throw error
                }
            } catch let interrupted as Interrupted {
                partial = interrupted.partial
                let header = interrupted.partial.header
                guard attempt < configuration.attempts else { throw Failure.connectionLost(url: configuration.url) }
                logger?.info(
                    "\(configuration.url): the connection was lost \(interrupted.partial.filled) bytes into \(header.name); asking for the rest (\(attempt) of \(configuration.attempts))"
                )
            } catch let error as WireError where ![.rateLimited, .internal].contains(error.code) {
                throw error
            } catch let failure as Failure {
                switch failure {
                case .refused, .oversizedResponse, .tls: throw failure
                case .unreachable: break
                case .connectionLost:
                    // A reader may still be adding to the bytes kept: start the object over
                    // rather than trust them.
                    partial = nil
                }
                guard attempt < configuration.attempts else { throw failure }
                logger?.info("\(failure); trying again in \(delay) s (\(attempt) of \(configuration.attempts))")
            } catch {
                guard attempt < configuration.attempts else { throw error }
                logger?.info("\(error); trying again in \(delay) s (\(attempt) of \(configuration.attempts))")
            }
            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            delay *= 2
            attempt += 1
        }
    }

    /// Closes the connection (a later request opens a new one).
    public func close() {
        if let current = link.withLock({ $0.take() }) {
            current.connection.close()
            current.end(Failure.connectionLost(url: configuration.url))
        }
    }

    private func send(_ request: WireMessage.Request, expectation: Expectation) async throws -> Answer {
        let current = try await currentLink()
        // The answer is made on the reader thread, which takes `pending` to hand it over; taking
        // `pending` again once woken makes that hand-over an edge ThreadSanitizer sees (it
        // misses the continuation's).
        defer { current.pending.withLock { _ in } }
        return try await withCheckedThrowingContinuation { continuation in
            let registered = current.pending.withLock { pending -> Bool in
                guard pending != nil else { return false }
                pending?[request.id] = continuation
                return true
            }
            current.expectations.withLock { $0[request.id] = expectation }
            guard registered else {
                return continuation.resume(throwing: Failure.connectionLost(url: configuration.url))
            }
            let text = request.text
            DispatchQueue.global().async { [self] in
                do {
                    try current.connection.send(text: text)
                } catch {
                    drop(current)
                }
            }
        }
    }

    /// The open link, connecting first when there is none.
    private func currentLink() async throws -> Link {
        if let current = link.withLock({ $0 }) { return current }
        return try await connecting.run { [self] in
            if let current = link.withLock({ $0 }) { return current }
            let connection = try await connect()
            let fresh = Link(connection: connection)
            let receiver = ResponseReceiver(expectations: fresh.expectations, seeds: seeds) { [weak fresh] in
                fresh?.deliver($0, id: $1)
            }
            connection.messageObserver = receiver
            link.withLock { $0 = fresh }
            let reader = Thread { [self] in
                // Successful responses go to `receiver`; what comes here are failures, and
                // responses whose header did not fit in their first frame.
                receiver.lap = StageClock.Lap()
                while case .binary(let message)? = try? connection.receive() {
                    receiver.lap?.mark(.receive)
                    do {
                        let response = try WireMessage.parseResponse(message)
                        let id: Int? =
                            switch response {
                            case .success(let header, _): header.id
                            case .failure(let id, _): id
                            }
                        let expectation = id.flatMap { id in fresh.expectations.withLock { $0.removeValue(forKey: id) }
                        }
                        switch response {
                        case .success(let header, let payload):
                            if let expected = expectation?.length, header.length > expected {
                                fresh.fail(
                                    id: header.id,
                                    Failure.oversizedResponse(
                                        url: configuration.url, name: header.name, claimed: header.length,
                                        expected: expected))
                                continue
                            }
                            let algorithm = expectation?.algorithm ?? .sha256
                            let object = Object(
                                header: header, payload: ByteStorage(payload),
                                payloadDigest: ContentDigest(
                                    algorithm,
                                    StageClock.measure(.hash) { Digest.hash(payload, with: algorithm) }.hexString))
                            fresh.deliver(.object(object), id: header.id)
                        case .failure(let id, let error): fresh.deliver(.failure(error), id: id)
                        }
                    } catch {
                        logger?.error("\(configuration.url) sent a malformed response: \(error)")
                        break
                    }
                }
                receiver.drain()
                if let (header, expected) = receiver.refusal {
                    fresh.fail(
                        id: header.id,
                        Failure.oversizedResponse(
                            url: configuration.url, name: header.name, claimed: header.length, expected: expected))
                } else if let (id, partial) = receiver.takeInterrupted() {
                    // Its waiter asks for the rest on the next connection.
                    fresh.fail(id: id, Interrupted(partial: partial))
                }
                drop(fresh)
            }
            reader.name = "weight-client reader"
            reader.start()
            return fresh
        }
    }

    /// Forgets `stale` (if it is still the link) and fails its waiters.
    private func drop(_ stale: Link) {
        link.withLock { if $0 === stale { $0 = nil } }
        stale.connection.close(code: 1001)
        stale.end(Failure.connectionLost(url: configuration.url))
    }

    private func connect() async throws -> WebSocketConnection {
        let headers = configuration.authToken.map { [("Authorization", "Bearer \($0)")] } ?? []
        do {
            let (connection, subprotocol) = try await WebSocketClient.connect(
                to: configuration.url, protocols: [WireMessage.subprotocol], headers: headers, tls: configuration.tls,
                timeouts: configuration.timeouts)
            guard subprotocol == WireMessage.subprotocol else {
                connection.close(code: 1002)
                throw Failure.refused(
                    url: configuration.url, reason: "it does not speak \(WireMessage.subprotocol): not a weight server?"
                )
            }
            logger?.info("connected to the weight server at \(configuration.url)")
            return connection
        } catch WebSocketHandshake.ClientFailure.refused(let status, let body) where [401, 403].contains(status) {
            let hint =
                status == 401
                ? (configuration.authToken == nil
                    ? " (give the token with --auth-token-file)" : " (check the token in --auth-token-file)")
                : ""
            throw Failure.refused(url: configuration.url, reason: "HTTP \(status): \(body)\(hint)")
        } catch let rejected as TLSStream.CertificateRejected {
            throw Failure.tls(
                url: configuration.url, problem: "\(rejected)",
                advice: rejected.wrongHost
                    ? "connect by the name the certificate was issued for, or (test servers only) give --insecure"
                    : "give the CA that signed it with --ca-file, or (self-signed test servers only) --insecure")
        } catch is TLSStream.PeerNotTLS {
            throw Failure.tls(
                url: configuration.url, problem: "the server does not speak TLS on this port",
                advice: "connect with \(Self.url(configuration.url, scheme: "ws"))")
        } catch let failure as WebSocketHandshake.ClientFailure where !isSecure && speaksTLS(failure) {
            throw Failure.tls(
                url: configuration.url, problem: "the server speaks TLS on this port",
                advice: "connect with \(Self.url(configuration.url, scheme: "wss"))")
        } catch let failure as Failure {
            throw failure
        } catch let invalid as WebSocketClient.InvalidURL {
            throw invalid
        } catch {
            throw Failure.unreachable(url: configuration.url, reason: "\(error)")
        }
    }
}

extension WeightClient {
    private var isSecure: Bool { configuration.url.lowercased().hasPrefix("wss:") }

    /// `url` with its scheme replaced by `scheme`.
    static func url(_ url: String, scheme: String) -> String {
        guard let colon = url.firstIndex(of: ":") else { return url }
        return scheme + url[colon...]
    }

    /// Whether a `ws://` handshake that failed with `failure` met a TLS server that said so in
    /// plain HTTP, as ours and nginx do (`400`, "speaks TLS", "sent to HTTPS port").
    private func speaksTLS(_ failure: WebSocketHandshake.ClientFailure) -> Bool {
        guard case .refused(let status, let body) = failure else { return false }
        return status == 400 && (body.contains("TLS") || body.contains("HTTPS"))
    }
}

/// Receives each successful response's payload straight into the object's buffer (the
/// connection diverts it here from the socket), has each piece hashed as it lands, and hands the
/// object to its waiter when the last byte is hashed.
///
/// The reader thread hashes each piece itself, while it is in its cache, except while a pass
/// waits for its data (``ComputeWaiting``): a core is idle then, and the pieces go to a serial
/// queue beside the reader, so that receiving and hashing take a core each instead of turns.
/// (Always on the queue, a pass with a compute thread per core streamed MiniLM 15% slower on a
/// 2-core Zen 5; always on the reader, a pass with one compute thread 13% slower.) Pieces and
/// the objects' ends go to the queue for as long as it has work, so every piece is hashed in
/// order and one streaming digest serves.
private final class ResponseReceiver: WebSocketMessageObserver, @unchecked Sendable {
    private let expectations: Locked<[Int: WeightClient.Expectation]>
    /// Objects to continue rather than start, by request id: a resumed request's payload
    /// follows the bytes an interrupted one delivered.
    private let seeds: Locked<[Int: WeightClient.PartialObject]>
    private let deliver: (WeightClient.Answer, Int) -> Void
    // Touched only by the thread in the connection's `receive()`.
    /// The response arriving now.
    private var current: Sink?
    /// The response refused for claiming more than its request's expected length.
    private(set) var refusal: (header: WireMessage.Header, expected: Int)?
    /// The reader thread's time, marked as receiving once per message (set by that thread).
    var lap: StageClock.Lap?
    /// Hashes received pieces, finalizes digests and delivers objects, in the order received.
    private let hashing = DispatchQueue(label: "weight-client hashing")
    /// Jobs given to `hashing` and not finished.
    private let queued = Atomic<Int>(0)

    init(
        expectations: Locked<[Int: WeightClient.Expectation]>, seeds: Locked<[Int: WeightClient.PartialObject]>,
        deliver: @escaping (WeightClient.Answer, Int) -> Void
    ) {
        self.expectations = expectations
        self.seeds = seeds
        self.deliver = deliver
    }

    /// One response's payload on its way into its object's buffer.
    ///
    /// Touched by the reader thread, then (`finish()`) perhaps by the hashing queue.
    final class Sink: WebSocketPayloadSink, @unchecked Sendable {
        /// The response's header (for a resumed request, the rest's).
        let header: WireMessage.Header
        let partial: WeightClient.PartialObject
        private unowned let receiver: ResponseReceiver

        /// Payload bytes gathered before they are hashed: enough for the hash's widest SIMD
        /// path, few enough to be hashed while still in the cache.
        ///
        /// Pieces end at multiples of it, so BLAKE3 hashes whole subtrees of 256 chunks, whose
        /// parents fill the vectors' lanes (in the cache, pieces of 70,000 bytes hash at 5.3 GB/s
        /// and of 256 KiB at 6.2: `scripts/test-kernels --bench`, AVX-512 on a Zen 4).
        private static let hashPiece = 256 * 1024
        /// The end of the bytes hashed or given to be hashed (set by the reader thread).
        private var hashEnd = 0

        init(header: WireMessage.Header, partial: WeightClient.PartialObject, receiver: ResponseReceiver) {
            self.header = header
            self.partial = partial
            self.receiver = receiver
        }

        var space: UnsafeMutableRawBufferPointer {
            UnsafeMutableRawBufferPointer(rebasing: partial.memory.buffer[partial.filled...])
        }

        func received(_ count: Int) {
            partial.filled += count
            let end = partial.filled / Self.hashPiece * Self.hashPiece
            guard end > hashEnd else { return }
            hashEnd = end
            let partial = partial
            receiver.hash { partial.hash(upTo: end) }
        }

        func finish() {
            receiver.lap?.mark(.receive)
            receiver.current = nil
            let end = partial.filled
            receiver.hash { [self] in
                partial.hash(upTo: end)
                receiver.finished(self, length: end)
            }
        }
    }

    func observe(fragment: [UInt8], first: Bool, last: Bool) throws(WebSocketError) -> WebSocketMessageRoute {
        guard first, let layout = WireMessage.responseLayout(from: fragment) else { return .assemble }
        let header = layout.header
        let expectation = expectations.withLock { $0.removeValue(forKey: header.id) }
        let seed = seeds.withLock { $0.removeValue(forKey: header.id) }
        // A resumed object's buffer has room for the rest it asked for.
        let room = seed.map { $0.memory.count - $0.filled }
        if let expected = expectation?.length ?? room, header.length > expected {
            refusal = (header, expected)
            throw WebSocketError.tooLarge(size: UInt64(layout.size), limit: layout.payloadStart + expected)
        }
        let partial = seed ?? WeightClient.PartialObject(header: header, algorithm: expectation?.algorithm ?? .sha256)
        let sink = Sink(header: header, partial: partial, receiver: self)
        // The payload's first bytes, when they came in the header's frame.
        let early = fragment[layout.payloadStart...].prefix(sink.space.count)
        if !early.isEmpty {
            early.withUnsafeBytes { sink.space.copyMemory(from: $0) }
            sink.received(early.count)
        }
        current = sink
        return .divert(size: layout.size, into: sink)
    }

    /// Runs `job` (hashing, or finishing an object) on this thread, or on the hashing queue
    /// while a computation waits or the queue has work.
    private func hash(_ job: @escaping @Sendable () -> Void) {
        guard ComputeWaiting.isWaiting || queued.load(ordering: .acquiring) > 0 else { return job() }
        queued.add(1, ordering: .relaxed)
        hashing.async { [self] in
            job()
            queued.subtract(1, ordering: .releasing)
        }
    }

    /// Hands a whole object, `length` bytes, to its waiter.
    fileprivate func finished(_ sink: Sink, length: Int) {
        let partial = sink.partial
        var header = sink.header
        header.offset = partial.header.offset
        header.length = length
        let digest = StageClock.measure(.hash) { partial.digest.finalize() }
        let object = WeightClient.Object(
            header: header, payload: ByteStorage(pooled: partial.memory, count: length),
            payloadDigest: ContentDigest(partial.digest.algorithm, digest.hexString))
        deliver(.object(object), header.id)
    }

    /// Waits until every piece received is hashed and every object finished is delivered (the
    /// reader thread, when the connection has ended).
    func drain() {
        hashing.sync {}
    }

    /// After the connection ended and ``drain()``, the response that was arriving, if one was:
    /// its request's id and what had arrived of the object.
    func takeInterrupted() -> (id: Int, partial: WeightClient.PartialObject)? {
        defer { current = nil }
        return current.map { ($0.header.id, $0.partial) }
    }
}
