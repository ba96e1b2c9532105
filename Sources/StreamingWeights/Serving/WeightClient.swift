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

        public var description: String {
            switch self {
            case .unreachable(let url, let reason):
                "no weight server answers at \(url) (\(reason)); start one with: weight-server --chunks-dir DIR"
            case .refused(let url, let reason): "the weight server at \(url) refused the connection: \(reason)"
            case .connectionLost(let url): "the connection to the weight server at \(url) was lost"
            }
        }
    }

    /// One connection and the requests waiting on it.
    private final class Link: Sendable {
        let connection: WebSocketConnection
        let pending = Mutex<[Int: CheckedContinuation<WireMessage.Response, any Error>]?>([:])

        init(connection: WebSocketConnection) {
            self.connection = connection
        }

        /// Hands `response` to whoever waits for its id.
        func deliver(_ response: WireMessage.Response, id: Int?) {
            guard let id else { return }
            let waiter = pending.withLock { $0?.removeValue(forKey: id) }
            waiter?.resume(returning: response)
        }

        /// Fails every waiter; later requests on this link fail at once.
        func end(_ error: any Error) {
            let waiters = pending.withLock { pending -> [CheckedContinuation<WireMessage.Response, any Error>] in
                defer { pending = nil }
                return Array((pending ?? [:]).values)
            }
            for waiter in waiters { waiter.resume(throwing: error) }
        }
    }

    public let configuration: Configuration
    private let logger: Logger?
    private let link = Mutex<Link?>(nil)
    private let nextID = Atomic<Int>(1)
    private let connecting = AsyncLock()

    public init(configuration: Configuration, logger: Logger? = nil) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Sends a request and returns the object's header and payload.
    ///
    /// Retries on a lost or refused connection and on `rate_limited` or `internal` answers,
    /// waiting ``Configuration/retryDelay`` (doubling) between tries.
    /// - Throws: ``Failure`` when no connection could be made or kept, or the server's
    ///   ``WireError`` (`not_found`, `bad_request`, ...) for the request itself.
    public func get(
        _ operation: WireMessage.Request.Operation, name: String? = nil, offset: Int? = nil, length: Int? = nil
    ) async throws -> (header: WireMessage.Header, payload: ArraySlice<UInt8>) {
        var delay = configuration.retryDelay
        var attempt = 1
        while true {
            do {
                let request = WireMessage.Request(
                    id: nextID.add(1, ordering: .relaxed).oldValue, operation: operation, name: name, offset: offset,
                    length: length)
                switch try await send(request) {
                case .success(let header, let payload): return (header, payload)
                case .failure(_, let error): throw error
                }
            } catch let error as WireError where ![.rateLimited, .internal].contains(error.code) {
                throw error
            } catch let failure as Failure {
                if case .refused = failure { throw failure }
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

    private func send(_ request: WireMessage.Request) async throws -> WireMessage.Response {
        let current = try await currentLink()
        return try await withCheckedThrowingContinuation { continuation in
            let registered = current.pending.withLock { pending -> Bool in
                guard pending != nil else { return false }
                pending?[request.id] = continuation
                return true
            }
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
            link.withLock { $0 = fresh }
            let reader = Thread { [self] in
                while case .binary(let message)? = try? connection.receive() {
                    do {
                        let response = try WireMessage.parseResponse(message)
                        switch response {
                        case .success(let header, _): fresh.deliver(response, id: header.id)
                        case .failure(let id, _): fresh.deliver(response, id: id)
                        }
                    } catch {
                        logger?.error("\(configuration.url) sent a malformed response: \(error)")
                        break
                    }
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
            return connection
        } catch WebSocketHandshake.ClientFailure.refused(let status, let body) where [401, 403].contains(status) {
            throw Failure.refused(url: configuration.url, reason: "HTTP \(status): \(body)")
        } catch let failure as Failure {
            throw failure
        } catch let invalid as WebSocketClient.InvalidURL {
            throw invalid
        } catch {
            throw Failure.unreachable(url: configuration.url, reason: "\(error)")
        }
    }
}

/// Runs one body at a time, in the order callers arrive, without blocking a thread.
actor AsyncLock {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        }
        busy = true
        defer {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
