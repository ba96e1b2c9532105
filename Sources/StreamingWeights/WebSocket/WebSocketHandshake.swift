import Foundation

/// The opening handshake (RFC 6455 section 4): parsing a client's upgrade request with limits,
/// the `Sec-WebSocket-Accept` computation, and the server's answer.
public enum WebSocketHandshake {
    /// The GUID the accept key is derived with (section 1.3).
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// The most bytes a request's head may take, and the most header lines.
    public static let maximumHeadSize = 16 * 1024
    public static let maximumHeaderCount = 100

    /// `base64(SHA-1(key + GUID))`.
    public static func acceptKey(for key: String) -> String {
        Data(Digest.sha1(Array((key + guid).utf8))).base64EncodedString()
    }

    /// A client's upgrade request.
    public struct Request: Sendable, Equatable {
        public var path: String
        /// Header names lower-cased, in order.
        public var headers: [(name: String, value: String)]
        public var key: String
        public var protocols: [String]
        public var origin: String?

        public func header(_ name: String) -> String? {
            headers.first { $0.name == name.lowercased() }?.value
        }

        public static func == (lhs: Request, rhs: Request) -> Bool {
            lhs.path == rhs.path && lhs.key == rhs.key && lhs.protocols == rhs.protocols && lhs.origin == rhs.origin
                && lhs.headers.map(\.name) == rhs.headers.map(\.name)
                && lhs.headers.map(\.value) == rhs.headers.map(\.value)
        }
    }

    /// Why a handshake was refused, with the HTTP status to answer.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case headTooLarge
        case tooManyHeaders
        case malformed(String)
        case notAnUpgrade(String)
        case unsupportedVersion(String?)

        public var status: Int {
            switch self {
            case .headTooLarge: 431
            case .tooManyHeaders: 431
            case .unsupportedVersion: 426
            default: 400
            }
        }

        public var description: String {
            switch self {
            case .headTooLarge: "the request head is over \(WebSocketHandshake.maximumHeadSize) bytes"
            case .tooManyHeaders: "the request has over \(WebSocketHandshake.maximumHeaderCount) header lines"
            case .malformed(let reason): "malformed request: \(reason)"
            case .notAnUpgrade(let reason): "not a WebSocket upgrade: \(reason)"
            case .unsupportedVersion(let version): "Sec-WebSocket-Version \(version ?? "(missing)") is not 13"
            }
        }
    }

    /// Parses a request head from `bytes`, which may hold more than the head.
    ///
    /// - Returns: the request and how many bytes it took, or `nil` when the head is incomplete.
    /// - Throws: ``Failure`` as soon as the bytes cannot become a valid upgrade request.
    public static func parseRequest(_ bytes: [UInt8]) throws(Failure) -> (Request, Int)? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.firstRange(of: terminator)?.upperBound else {
            guard bytes.count <= maximumHeadSize else { throw .headTooLarge }
            return nil
        }
        guard end <= maximumHeadSize else { throw .headTooLarge }
        guard let head = String(validating: bytes[..<end], as: UTF8.self) else {
            throw .malformed("the head is not UTF-8")
        }
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw .malformed("empty request") }
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3, requestLine[0] == "GET", requestLine[2] == "HTTP/1.1" else {
            throw .notAnUpgrade("the request line is not GET ... HTTP/1.1")
        }
        guard lines.count <= maximumHeaderCount else { throw .tooManyHeaders }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw .malformed("header line without a name")
            }
            headers.append(
                (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func value(_ name: String) -> String? { headers.first { $0.name == name }?.value }
        func tokens(_ name: String) -> [String] {
            headers.filter { $0.name == name }.flatMap { $0.value.split(separator: ",") }
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        }
        guard value("host") != nil else { throw .malformed("no Host header") }
        guard tokens("upgrade").contains("websocket") else { throw .notAnUpgrade("no 'Upgrade: websocket'") }
        guard tokens("connection").contains("upgrade") else { throw .notAnUpgrade("no 'Connection: Upgrade'") }
        guard value("sec-websocket-version") == "13" else { throw .unsupportedVersion(value("sec-websocket-version")) }
        guard let key = value("sec-websocket-key"), Data(base64Encoded: key)?.count == 16 else {
            throw .malformed("Sec-WebSocket-Key is missing or not 16 bytes in base64")
        }
        let protocols = headers.filter { $0.name == "sec-websocket-protocol" }.flatMap {
            $0.value.split(separator: ",")
        }
        .map { $0.trimmingCharacters(in: .whitespaces) }
        let request = Request(
            path: String(requestLine[1]), headers: headers, key: key, protocols: protocols, origin: value("origin"))
        return (request, end)
    }

    /// The server's `101 Switching Protocols` answer, choosing `subprotocol` when given.
    public static func acceptResponse(for request: Request, subprotocol: String? = nil) -> [UInt8] {
        var lines = [
            "HTTP/1.1 101 Switching Protocols", "Server: StreamingWeights", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Accept: \(acceptKey(for: request.key))",
        ]
        if let subprotocol { lines.append("Sec-WebSocket-Protocol: \(subprotocol)") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// A client's upgrade request for `path` on `host`, with a fresh random key.
    public static func clientRequest(
        host: String,
        path: String,
        protocols: [String] = [],
        headers: [(String, String)] = []
    ) -> (bytes: [UInt8], key: String) {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var lines = [
            "GET \(path) HTTP/1.1", "Host: \(host)", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: \(key)", "Sec-WebSocket-Version: 13",
        ]
        if !protocols.isEmpty { lines.append("Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))") }
        lines += headers.map { "\($0.0): \($0.1)" }
        return (Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8), key)
    }

    /// Checks a server's answer to a request sent with `key`.
    ///
    /// - Returns: the chosen subprotocol and how many bytes the head took, or `nil` when the head
    ///   is incomplete.
    /// - Throws: ``ClientFailure`` for a refusal (with the status and body) or a wrong accept key.
    public static func parseResponse(_ bytes: [UInt8], key: String) throws(ClientFailure) -> (
        subprotocol: String?, length: Int
    )? {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10] as [UInt8])?.upperBound else {
            guard bytes.count <= maximumHeadSize else {
                throw .malformed("the response head is over \(maximumHeadSize) bytes")
            }
            return nil
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.isEmpty ? [] : lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw .malformed("no HTTP status line") }
        guard status == 101 else {
            throw .refused(
                status: status,
                body: String(decoding: bytes[end...], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        guard headers["sec-websocket-accept"] == acceptKey(for: key) else {
            throw .malformed("Sec-WebSocket-Accept does not match the key")
        }
        return (headers["sec-websocket-protocol"], end)
    }

    /// A server that would not upgrade, or answered wrongly.
    public enum ClientFailure: Error, Hashable, CustomStringConvertible {
        case refused(status: Int, body: String)
        case malformed(String)

        public var description: String {
            switch self {
            case .refused(let status, let body):
                "the server refused the WebSocket upgrade with HTTP \(status)\(body.isEmpty ? "" : ": " + body)"
            case .malformed(let reason): "the server's handshake answer is invalid: \(reason)"
            }
        }
    }

    /// A plain `GET path HTTP/1.x` request (not an upgrade), such as a health check.
    public struct PlainGet: Sendable {
        public let path: String
        /// Header values by lower-cased name.
        public let headers: [String: String]

        public init(path: String, headers: [String: String] = [:]) {
            self.path = path
            self.headers = headers
        }

        /// The plain `GET` whose head `head` holds, or `nil` when it is not one.
        public init?(head: [UInt8]) {
            guard let end = head.firstRange(of: [13, 10, 13, 10] as [UInt8])?.lowerBound else { return nil }
            var lines = String(decoding: head[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let words = lines.removeFirst().split(separator: " ")
            guard words.count == 3, words[0] == "GET", words[2] == "HTTP/1.1" || words[2] == "HTTP/1.0" else {
                return nil
            }
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
            self.init(path: String(words[1]), headers: headers)
        }
    }

    /// An answer to a plain `GET`: the status, the content type and the body.
    public struct PlainResponse: Sendable {
        public let status: Int
        public let contentType: String
        public let body: [UInt8]

        public init(status: Int = 200, contentType: String, body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        /// The response's bytes, closing the connection.
        public var encoded: [UInt8] {
            let head = [
                "HTTP/1.1 \(status) \(WebSocketHandshake.reasonPhrase(status))", "Content-Type: \(contentType)",
                "Content-Length: \(body.count)", "Connection: close", "Cache-Control: no-store",
            ]
            return Array((head.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
        }
    }

    static func reasonPhrase(_ status: Int) -> String {
        [
            200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 426: "Upgrade Required",
            429: "Too Many Requests", 431: "Request Header Fields Too Large", 503: "Service Unavailable",
        ][status] ?? "Error"
    }

    /// An HTTP error answer with a plain-text body, for a refused handshake.
    public static func errorResponse(status: Int, reason: String, extraHeaders: [String] = []) -> [UInt8] {
        var lines = [
            "HTTP/1.1 \(status) \(reasonPhrase(status))", "Content-Type: text/plain; charset=utf-8",
            "Content-Length: \(reason.utf8.count + 1)", "Connection: close",
        ]
        if status == 426 { lines.append("Sec-WebSocket-Version: 13") }
        lines += extraHeaders
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + reason + "\n").utf8)
    }
}
