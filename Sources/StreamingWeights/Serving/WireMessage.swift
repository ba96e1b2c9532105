import Foundation

/// The `streaming-weights.v1` messages (docs/PROTOCOL.md is the normative description).
///
/// A request is a text message holding a JSON object; a response is a binary message: a
/// little-endian `u32` header length, the UTF-8 JSON header, then the payload.
public enum WireMessage {
    /// The WebSocket subprotocol both sides name in the handshake.
    public static let subprotocol = "streaming-weights.v1"
    /// The largest request accepted; a larger one is answered with `too_large`.
    public static let maximumRequestSize = 64 * 1024

    /// A request from a client.
    public struct Request: Sendable, Equatable {
        public enum Operation: String, Sendable {
            /// `chunk_info.json`.
            case manifest
            /// A chunk or one of the manifest's files, by name, whole or a byte range.
            case get
            /// The server's counters, as JSON.
            case stats
        }

        public var id: Int
        public var operation: Operation
        public var name: String?
        public var offset: Int?
        public var length: Int?

        public init(id: Int, operation: Operation, name: String? = nil, offset: Int? = nil, length: Int? = nil) {
            self.id = id
            self.operation = operation
            self.name = name
            self.offset = offset
            self.length = length
        }

        /// The request as the JSON text sent on the wire.
        public var text: String {
            var members: [(String, JSONValue)] = [("id", .integer(Int64(id))), ("op", .string(operation.rawValue))]
            if let name { members.append(("name", .string(name))) }
            if let offset { members.append(("offset", .integer(Int64(offset)))) }
            if let length { members.append(("length", .integer(Int64(length)))) }
            return JSONValue.object(JSONObject(members)).serialized
        }

        /// Parses a request, checking every field.
        ///
        /// - Throws: ``WireError`` (`bad_request` or `too_large`), carrying the id when the
        ///   text had a usable one, so the answer can name it.
        public init(parsing text: String) throws(WireError) {
            guard text.utf8.count <= WireMessage.maximumRequestSize else {
                throw WireError(
                    code: .tooLarge,
                    message:
                        "a request of \(text.utf8.count) bytes is over the \(WireMessage.maximumRequestSize)-byte limit"
                )
            }
            let value: JSONValue
            do {
                value = try JSONParser.parse(text)
            } catch {
                throw WireError(code: .badRequest, message: "the request is not valid JSON: \(error)")
            }
            guard let object = value.objectValue else {
                throw WireError(code: .badRequest, message: "a request must be a JSON object")
            }
            guard let id = object["id"]?.integerValue, id >= 0, id <= Int64(Int32.max) else {
                throw WireError(code: .badRequest, message: "a request needs an \"id\": a non-negative integer")
            }
            let known: Set = ["id", "op", "name", "offset", "length"]
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                throw WireError(code: .badRequest, message: "unknown field \"\(unknown)\"", id: Int(id))
            }
            guard let op = object["op"]?.stringValue else {
                throw WireError(code: .badRequest, message: "a request needs an \"op\"", id: Int(id))
            }
            guard let operation = Operation(rawValue: op) else {
                throw WireError(
                    code: .badRequest, message: "unknown op \"\(op)\" (manifest, get or stats)", id: Int(id))
            }
            func integer(_ key: String) throws(WireError) -> Int? {
                guard let member = object[key] else { return nil }
                guard let number = member.integerValue, number >= 0, number <= Int64(Int.max / 2) else {
                    throw WireError(
                        code: .badRequest, message: "\"\(key)\" must be a non-negative integer", id: Int(id))
                }
                return Int(number)
            }
            self.id = Int(id)
            self.operation = operation
            offset = try integer("offset")
            length = try integer("length")
            if let member = object["name"] {
                guard let name = member.stringValue else {
                    throw WireError(code: .badRequest, message: "\"name\" must be a string", id: Int(id))
                }
                self.name = name
            }
            if operation == .get, name == nil {
                throw WireError(code: .badRequest, message: "\"get\" needs a \"name\"", id: Int(id))
            }
        }
    }

    /// The JSON header of a successful response.
    public struct Header: Codable, Sendable, Equatable {
        public var id: Int
        /// The chunk or file name, `chunk_info.json` for the manifest, `stats` for statistics.
        public var name: String
        /// The size of the whole object as stored, in bytes.
        public var size: Int
        /// The SHA-256 of the whole object as stored (lower-case hex).
        public var sha256: String
        /// The BLAKE3 of the whole object as stored (lower-case hex), when the manifest lists
        /// one; absent otherwise, and from servers older than BLAKE3.
        public var blake3: String?
        /// `identity` or `gzip`: how the stored bytes are encoded.
        public var encoding: String
        /// Where the payload starts within the object (0 unless a range was asked for).
        public var offset: Int
        /// The payload's length.
        public var length: Int

        public init(
            id: Int, name: String, size: Int, sha256: String, blake3: String? = nil, encoding: String, offset: Int,
            length: Int
        ) {
            self.id = id
            self.name = name
            self.size = size
            self.sha256 = sha256
            self.blake3 = blake3
            self.encoding = encoding
            self.offset = offset
            self.length = length
        }
    }

    /// A response: a header and its payload, or an error.
    public enum Response: Sendable {
        case success(Header, payload: ArraySlice<UInt8>)
        case failure(id: Int?, WireError)
    }

    /// The bytes before the payload of a successful response: length, then JSON header.
    public static func prefix(for header: Header) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // swift-format-ignore: NeverUseForceTry
        // Encoding a struct of strings and integers cannot fail.
        return framed(Array(try! encoder.encode(header)))
    }

    /// A whole error response.
    public static func errorResponse(id: Int?, _ error: WireError) -> [UInt8] {
        let body: [(String, JSONValue)] = [
            ("code", .string(error.code.rawValue)), ("message", .string(error.message)),
        ]
        let header = JSONValue.object(
            JSONObject([("id", id.map { .integer(Int64($0)) } ?? .null), ("error", .object(JSONObject(body)))]))
        return framed(Array(header.serialized.utf8))
    }

    private static func framed(_ header: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: UInt32(header.count).littleEndian) { Array($0) } + header
    }

    /// The header of the response message that begins with `prefix`, where its payload starts,
    /// and the whole message's size, when the header is complete and says them (`nil`
    /// otherwise, and for an error response).
    public static func responseLayout(from prefix: [UInt8]) -> (header: Header, payloadStart: Int, size: Int)? {
        guard let headerLength = headerLength(of: prefix), headerLength <= prefix.count - 4,
            let header = try? JSONValueDecoder.decode(Header.self, from: prefix[4..<(4 + headerLength)]),
            header.length >= 0, header.length <= Int.max - 4 - headerLength
        else { return nil }
        return (header, 4 + headerLength, 4 + headerLength + header.length)
    }

    /// The little-endian `u32` a response message begins with, or nil when it is shorter.
    private static func headerLength(of message: [UInt8]) -> Int? {
        guard message.count >= 4 else { return nil }
        return Int(message[0]) | Int(message[1]) << 8 | Int(message[2]) << 16 | Int(message[3]) << 24
    }

    /// Parses a response message.
    ///
    /// - Throws: ``WireError`` with code `internal` when the message is malformed (too short,
    ///   a header length past the end, a header that is not the JSON the protocol says).
    public static func parseResponse(_ message: [UInt8]) throws(WireError) -> Response {
        func malformed(_ why: String) -> WireError { WireError(code: .internal, message: "malformed response: \(why)") }
        guard let headerLength = headerLength(of: message) else {
            throw malformed("\(message.count) bytes, fewer than the 4-byte header length")
        }
        guard headerLength <= message.count - 4 else {
            throw malformed("a header of \(headerLength) bytes in a message of \(message.count)")
        }
        let headerBytes = message[4..<(4 + headerLength)]
        let value: JSONValue
        do {
            value = try JSONParser.parse(String(decoding: headerBytes, as: UTF8.self))
        } catch {
            throw malformed("the header is not JSON (\(error))")
        }
        guard let object = value.objectValue else { throw malformed("the header is not a JSON object") }
        let id = object["id"]?.integerValue.map(Int.init)
        if let error = object["error"]?.objectValue {
            let code = error["code"]?.stringValue.flatMap(WireError.Code.init(rawValue:)) ?? .internal
            return .failure(id: id, WireError(code: code, message: error["message"]?.stringValue ?? "", id: id))
        }
        let header: Header
        do {
            header = try JSONValueDecoder.decode(Header.self, from: value)
        } catch {
            throw malformed("the header lacks a field or has the wrong type")
        }
        let payload = message[(4 + headerLength)...]
        guard payload.count == header.length, header.offset >= 0, header.offset + header.length <= header.size else {
            throw malformed(
                "\(payload.count) payload bytes for a header that says \(header.length) at \(header.offset) of \(header.size)"
            )
        }
        return .success(header, payload: payload)
    }
}

/// An error a weight server answers a request with, or a client meets reading a response.
public struct WireError: Error, Hashable, CustomStringConvertible {
    /// The protocol's error codes.
    public enum Code: String, Sendable {
        case notFound = "not_found"
        case badRequest = "bad_request"
        case unauthorized
        case rateLimited = "rate_limited"
        case tooLarge = "too_large"
        case `internal`
    }

    public var code: Code
    public var message: String
    /// The request's id, when it had one.
    public var id: Int?

    public init(code: Code, message: String, id: Int? = nil) {
        self.code = code
        self.message = message
        self.id = id
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
