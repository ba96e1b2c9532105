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
        /// The payload: a slice of the received message, not a copy.
        public var payload: ArraySlice<UInt8>
        /// The payload's digest by the algorithm asked for, computed while it arrived.
        public var payloadDigest: ContentDigest
    }

    /// A response cut off by a lost connection: what arrived of its payload, and the digest
    /// of that, so the rest can be asked for as a range.
    struct Interrupted: Error, @unchecked Sendable {
        let header: WireMessage.Header
        let received: ArraySlice<UInt8>
        let digest: UnsafeSendable<StreamingDigest>
    }

    /// A response and, for a successful one, its payload's digest.
    private typealias Answer = (response: WireMessage.Response, payloadDigest: OneShot<[UInt8]>?)

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
    /// Digests that resumed requests continue (``PayloadDigester``), shared by every link.
    private let seeds = Locked<[Int: UnsafeSendable<StreamingDigest>]>([:])
    private let nextID = Atomic<Int>(1)
    private let connecting = AsyncLock()

    public init(configuration: Configuration, logger: Logger? = nil) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends a request and returns the object: its header, its payload and the payload's
    /// digest by `algorithm` (hashed beside the connection's reader thread as the bytes
    /// arrived, so a large object's digest is ready about when its last byte is).
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
        // What arrived of the object before a connection was lost, and its digest so far: the
        // next try asks only for the rest.
        var received: (bytes: ArraySlice<UInt8>, digest: UnsafeSendable<StreamingDigest>, header: WireMessage.Header)?
        while true {
            let id = nextID.add(1, ordering: .relaxed).oldValue
            do {
                defer { seeds.withLock { _ = $0.removeValue(forKey: id) } }
                var request = WireMessage.Request(
                    id: id, operation: operation, name: name, offset: offset, length: length)
                var expected = expectedLength
                if let received {
                    request = WireMessage.Request(
                        id: id, operation: .get, name: received.header.name,
                        offset: received.header.offset + received.bytes.count,
                        length: received.header.length - received.bytes.count)
                    expected = expectedLength.map { $0 - received.bytes.count }
                    seeds.withLock { $0[id] = received.digest }
                }
                let answer = try await send(request, expectation: Expectation(length: expected, algorithm: algorithm))
                switch answer.response {
                case .success(var header, let payload):
                    let digest = await answer.payloadDigest?.value
                    guard let received else {
                        return Object(
                            header: header, payload: payload,
                            payloadDigest: ContentDigest(
                                algorithm, (digest ?? Digest.hash(payload, with: algorithm)).hexString))
                    }
                    // The resumed range completes the bytes that arrived before.
                    let whole = Array(received.bytes) + payload
                    header.offset = received.header.offset
                    header.length = whole.count
                    return Object(
                        header: header, payload: whole[...],
                        payloadDigest: ContentDigest(
                            algorithm, (digest ?? Digest.hash(whole, with: algorithm)).hexString))
                case .failure(_, let error): throw error
                }
            } catch let interrupted as Interrupted {
                let header = received?.header ?? interrupted.header
                received = ((received?.bytes ?? []) + interrupted.received, interrupted.digest, header)
                guard attempt < configuration.attempts else { throw Failure.connectionLost(url: configuration.url) }
                logger?.info(
                    "\(configuration.url): the connection was lost \(received?.bytes.count ?? 0) bytes into \(header.name); asking for the rest (\(attempt) of \(configuration.attempts))"
                )
            } catch let error as WireError where ![.rateLimited, .internal].contains(error.code) {
                throw error
            } catch let failure as Failure {
                switch failure {
                case .refused, .oversizedResponse, .tls: throw failure
                case .unreachable: break
                case .connectionLost:
                    // Part of a resumed range may have reached the digest without being kept:
                    // start the object over rather than trust it.
                    received = nil
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
            let digester = PayloadDigester(expectations: fresh.expectations, seeds: seeds)
            connection.messageObserver = digester
            link.withLock { $0 = fresh }
            let reader = Thread { [self] in
                while case .binary(let message)? = try? StageClock.measure(.receive, { try connection.receive() }) {
                    let digest = digester.takeDigest()
                    do {
                        let response = try WireMessage.parseResponse(message)
                        switch response {
                        case .success(let header, _): fresh.deliver((response, digest), id: header.id)
                        case .failure(let id, _):
                            if let id { fresh.expectations.withLock { _ = $0.removeValue(forKey: id) } }
                            fresh.deliver((response, nil), id: id)
                        }
                    } catch {
                        logger?.error("\(configuration.url) sent a malformed response: \(error)")
                        break
                    }
                }
                if let (header, expected) = digester.refusal {
                    fresh.fail(
                        id: header.id,
                        Failure.oversizedResponse(
                            url: configuration.url, name: header.name, claimed: header.length, expected: expected))
                } else if let partial = connection.takePartialMessage(),
                    let interrupted = digester.interrupted(partial: partial)
                {
                    // Its waiter asks for the rest on the next connection.
                    fresh.fail(id: interrupted.header.id, interrupted)
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

/// Hashes each response's payload while its fragments arrive, on a queue of its own: the
/// reader thread goes on receiving while another core hashes.
private final class PayloadDigester: WebSocketMessageObserver, @unchecked Sendable {
    // Touched only by the thread in the connection's `receive()`.
    private var digest: UnsafeSendable<StreamingDigest>?
    private var pending: OneShot<[UInt8]>?
    private var finished: OneShot<[UInt8]>?
    /// The response arriving now: its header, where its payload starts in the message, and
    /// how many payload bytes have gone to the digest.
    private var current: (header: WireMessage.Header, payloadStart: Int, hashed: Int)?
    private let queue = DispatchQueue(label: "weight-client payload digest")
    private let expectations: Locked<[Int: WeightClient.Expectation]>
    /// Digests to continue rather than start, by request id: a resumed request's payload
    /// follows the bytes an interrupted one delivered.
    private let seeds: Locked<[Int: UnsafeSendable<StreamingDigest>]>
    /// The response refused for claiming more than its request's expected length.
    private(set) var refusal: (header: WireMessage.Header, expected: Int)?

    init(
        expectations: Locked<[Int: WeightClient.Expectation]>, seeds: Locked<[Int: UnsafeSendable<StreamingDigest>]>
    ) {
        self.expectations = expectations
        self.seeds = seeds
    }

    func observe(fragment: [UInt8], first: Bool, last: Bool) throws(WebSocketError) -> Int? {
        var size: Int?
        if first {
            digest = nil
            finished = nil
            if let layout = WireMessage.responseLayout(from: fragment) {
                let id = layout.header.id
                let expectation = expectations.withLock { $0.removeValue(forKey: id) }
                if let expected = expectation?.length, layout.header.length > expected {
                    refusal = (layout.header, expected)
                    throw WebSocketError.tooLarge(size: UInt64(layout.size), limit: layout.payloadStart + expected)
                }
                let started =
                    seeds.withLock { $0.removeValue(forKey: id) }
                    ?? UnsafeSendable(StreamingDigest(expectation?.algorithm ?? .sha256))
                queue.async { StageClock.measure(.hash) { started.value.update(fragment[layout.payloadStart...]) } }
                digest = started
                pending = OneShot<[UInt8]>()
                current = (layout.header, layout.payloadStart, fragment.count - layout.payloadStart)
                size = layout.size
            }
        } else if let digest {
            queue.async { StageClock.measure(.hash) { fragment.withUnsafeBytes { digest.value.update($0) } } }
            current?.hashed += fragment.count
        }
        if last, let digest, let pending {
            queue.async { pending.fulfil(StageClock.measure(.hash) { digest.value.finalize() }) }
            finished = pending
            self.digest = nil
            self.pending = nil
            current = nil
        }
        return size
    }

    /// The response that was arriving when the connection ended, if `partial` (the message's
    /// bytes so far) holds exactly the payload the digest has seen: its header, the payload so
    /// far, and the digest of it, ready to go on.
    func interrupted(partial: [UInt8]) -> WeightClient.Interrupted? {
        guard let current, let digest, partial.count == current.payloadStart + current.hashed else { return nil }
        queue.sync {}  // every update queued so far has run
        self.current = nil
        self.digest = nil
        pending = nil
        return WeightClient.Interrupted(
            header: current.header, received: partial[current.payloadStart...], digest: digest)
    }

    /// The digest of the payload of the message just received, if it had one.
    func takeDigest() -> OneShot<[UInt8]>? {
        defer { finished = nil }
        return finished
    }
}
