import Foundation

/// Opens client connections: `ws://host:port/path`, with custom headers (`Authorization`) and
/// subprotocols.
public enum WebSocketClient {
    /// A URL this client cannot use.
    public struct InvalidURL: Error, Hashable, CustomStringConvertible {
        public let url: String
        public var description: String { "'\(url)' is not a ws:// or wss:// URL with a host" }
    }

    /// Connects and completes the opening handshake.
    ///
    /// - Returns: the connection (``WebSocketConnection/receive()`` and `send`) and the subprotocol the server chose.
    /// `wss://` verifies the server's certificate against the system's CAs unless `tls` says
    /// otherwise (a CA file, or insecure for a self-signed test certificate).
    /// - Throws: ``InvalidURL``, a socket or TLS failure naming the address, or
    ///   ``WebSocketHandshake/ClientFailure`` for a refusal (401, 403, 429 with their body).
    public static func connect(
        to url: String,
        protocols: [String] = [],
        headers: [(String, String)] = [],
        timeout: Double = 10,
        tls: TLSStream.Context? = nil,
        maximumFrameSize: Int = 64 << 20,
        maximumMessageSize: Int = 1 << 30,
        timeouts: WebSocketConnection.Timeouts = WebSocketConnection.Timeouts()
    ) throws -> (connection: WebSocketConnection, subprotocol: String?) {
        guard let components = URLComponents(string: url), ["ws", "wss"].contains(components.scheme),
            let host = components.host, !host.isEmpty
        else { throw InvalidURL(url: url) }
        let secure = components.scheme == "wss"
        let port = components.port ?? (secure ? 443 : 80)
        let path =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let plain = try POSIXSocket.connect(host: host, port: port, timeout: timeout)
        let socket: any ByteStream =
            secure ? try TLSStream.connect(plain, host: host, context: tls ?? TLSStream.Context()) : plain
        let (request, key) = WebSocketHandshake.clientRequest(
            host: components.port.map { "\(host):\($0)" } ?? host, path: path, protocols: protocols, headers: headers)
        try socket.write(request)
        var received: [UInt8] = []
        while true {
            let bytes = try socket.read()
            guard !bytes.isEmpty else {
                throw WebSocketHandshake.ClientFailure.malformed(
                    "the server closed the connection during the handshake")
            }
            received += bytes
            if let (subprotocol, length) = try WebSocketHandshake.parseResponse(received, key: key) {
                let connection = WebSocketConnection(
                    socket: socket, isServer: false, limits: (maximumFrameSize, maximumMessageSize),
                    timeouts: timeouts, buffered: Array(received[length...]))
                return (connection, subprotocol)
            }
        }
    }
}
