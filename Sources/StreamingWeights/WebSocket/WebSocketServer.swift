import Foundation

/// A WebSocket server on POSIX sockets: an accept loop and one thread per connection, so a slow
/// or stalled peer holds only its own thread, never the others or the accept loop.
public final class WebSocketServer: @unchecked Sendable {
    /// What the server accepts and how long it waits.
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 0
        /// Connections open at once; more are answered 503.
        public var maximumConnections = 1024
        /// Seconds a client has to complete its upgrade request.
        public var handshakeTimeout: Double = 10
        /// Keepalive, idle, close and send timeouts for upgraded connections.
        public var timeouts = WebSocketConnection.Timeouts()
        public var maximumFrameSize = 16 << 20
        public var maximumMessageSize = 64 << 20
        /// Subprotocols offered; the first one the client also asks for is chosen.
        public var subprotocols: [String] = []
        /// TLS settings: serve `wss://` when set.
        public var tls: TLSStream.Context?
        /// Decides on a request before it is upgraded: `nil` accepts, else the HTTP status and body to refuse with.
        public var authorize: @Sendable (WebSocketHandshake.Request) -> (status: Int, reason: String)? = { _ in nil }
        /// Answers a plain `GET` (no upgrade), such as a proxy's health check.
        ///
        /// Returns `nil` to refuse it as not an upgrade. Runs on the connection's thread, which
        /// it may block.
        public var plainGet: @Sendable (WebSocketHandshake.PlainGet) -> WebSocketHandshake.PlainResponse? = { _ in nil }

        public init() {}
    }

    public let configuration: Configuration
    private let listener: POSIXSocket
    private let handler: @Sendable (WebSocketConnection) -> Void
    /// Every accepted socket still being served, and its connection once upgraded.
    private struct Served {
        var sockets: [ObjectIdentifier: POSIXSocket] = [:]
        var connections: [ObjectIdentifier: WebSocketConnection] = [:]
    }
    private let served = Locked(Served())

    /// Binds the listening socket; call ``start()`` to accept.
    public init(configuration: Configuration, handler: @escaping @Sendable (WebSocketConnection) -> Void) throws {
        self.configuration = configuration
        self.handler = handler
        listener = try POSIXSocket.listen(host: configuration.host, port: configuration.port)
    }

    /// The port the server listens on.
    public var port: Int { listener.port }

    /// Connections being served now, handshakes included.
    public var openConnections: Int { served.withLock { $0.sockets.count } }

    /// Starts the accept loop on its own thread.
    public func start() {
        let thread = Thread { [self] in
            while let client = try? listener.accept() {
                let admitted = served.withLock { served -> Bool in
                    guard served.sockets.count < configuration.maximumConnections else { return false }
                    served.sockets[ObjectIdentifier(client)] = client
                    return true
                }
                guard admitted else {
                    try? client.write(WebSocketHandshake.errorResponse(status: 503, reason: "too many connections"))
                    client.close()
                    continue
                }
                let worker = Thread { [self] in
                    serve(client)
                    served.withLock { served in
                        served.sockets[ObjectIdentifier(client)] = nil
                        served.connections[ObjectIdentifier(client)] = nil
                    }
                }
                worker.stackSize = 256 * 1024
                worker.start()
            }
        }
        thread.name = "WebSocket accept"
        thread.start()
    }

    /// Stops gracefully.
    ///
    /// It stops accepting, drops handshakes in progress, and sends every open
    /// connection a close frame (1001) once the message it is sending has gone out. Handlers end
    /// as their peers answer; after `gracePeriod` seconds the sockets still open are shut.
    /// Returns when every handler has returned, or at the deadline.
    public func stop(gracePeriod: Double = 5) {
        listener.close()
        let (handshaking, upgraded) = served.withLock { served in
            (served.sockets.filter { served.connections[$0.key] == nil }.values, Array(served.connections.values))
        }
        for socket in handshaking { socket.close() }
        for connection in upgraded {
            DispatchQueue.global().async { connection.close(code: 1001, reason: "the server is shutting down") }
        }
        let deadline = DispatchTime.now() + gracePeriod
        while openConnections > 0 && DispatchTime.now() < deadline { usleep(5_000) }
        for socket in served.withLock({ Array($0.sockets.values) }) { socket.close() }
        let forced = DispatchTime.now() + 2
        while openConnections > 0 && DispatchTime.now() < forced { usleep(5_000) }
    }

    private func serve(_ socket: POSIXSocket) {
        socket.setTimeouts(read: configuration.handshakeTimeout, write: configuration.timeouts.send)
        let client: any ByteStream
        if let tls = configuration.tls {
            guard let secured = try? TLSStream.accept(socket, context: tls) else { return socket.close() }
            client = secured
        } else {
            // A TLS ClientHello (record type 22) on a plain port: say so in plain HTTP, which
            // the client's TLS library reports as "not TLS" at once, instead of waiting out
            // the handshake timeout for a request head that never comes.
            if socket.peekFirstByte() == 0x16 {
                try? socket.write(
                    WebSocketHandshake.errorResponse(status: 400, reason: "this server speaks plain ws://, not TLS"))
                return socket.close()
            }
            client = socket
        }
        var received: [UInt8] = []
        let request: WebSocketHandshake.Request
        let headLength: Int
        // The whole upgrade request must arrive in time, not just each piece of it.
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(configuration.handshakeTimeout * 1e9)
        do {
            while true {
                let left = Double(Int64(deadline) - Int64(DispatchTime.now().uptimeNanoseconds)) / 1e9
                guard left > 0 else { return client.close() }
                client.setTimeouts(read: left, write: configuration.timeouts.send)
                let bytes = try client.read()
                guard !bytes.isEmpty else { return client.close() }
                received += bytes
                if let (parsed, length) = try WebSocketHandshake.parseRequest(received) {
                    (request, headLength) = (parsed, length)
                    break
                }
            }
        } catch let failure as WebSocketHandshake.Failure {
            if case .notAnUpgrade = failure, let request = WebSocketHandshake.PlainGet(head: received),
                let response = configuration.plainGet(request)
            {
                try? client.write(response.encoded)
                return client.close()
            }
            try? client.write(WebSocketHandshake.errorResponse(status: failure.status, reason: failure.description))
            return client.close()
        } catch {
            return client.close()  // the handshake timed out or the peer went away
        }
        if let refusal = configuration.authorize(request) {
            try? client.write(WebSocketHandshake.errorResponse(status: refusal.status, reason: refusal.reason))
            return client.close()
        }
        let chosen = configuration.subprotocols.first { request.protocols.contains($0) }
        do {
            try client.write(WebSocketHandshake.acceptResponse(for: request, subprotocol: chosen))
            let connection = WebSocketConnection(
                socket: client, isServer: true,
                limits: (configuration.maximumFrameSize, configuration.maximumMessageSize),
                timeouts: configuration.timeouts, buffered: Array(received[headLength...]))
            let admitted = served.withLock { served -> Bool in
                guard served.sockets[ObjectIdentifier(socket)] != nil, listener.isOpen else { return false }
                served.connections[ObjectIdentifier(socket)] = connection
                return true
            }
            guard admitted else { return connection.close(code: 1001, reason: "the server is shutting down") }
            handler(connection)
            connection.close()
        } catch {
            client.close()
        }
    }
}
