/// What went wrong on a WebSocket: mostly a violation of RFC 6455 by the peer, with the close
/// code the RFC says to answer with.
public enum WebSocketError: Error, Hashable, CustomStringConvertible {
    /// Reserved bits set without an extension that defines them (1002).
    case reservedBitsSet
    /// An opcode RFC 6455 reserves (1002).
    case unknownOpcode(UInt8)
    /// A client frame without a mask, or a server frame with one (1002).
    case maskingViolation(expectedMasked: Bool)
    /// A control frame longer than 125 bytes or fragmented (1002).
    case invalidControlFrame(String)
    /// A continuation with no message to continue, or a new message inside a fragmented one (1002).
    case unexpectedContinuation(String)
    /// A 64-bit length with the top bit set, or a length not in its shortest form (1002).
    case invalidLength(UInt64)
    /// A frame or message over the configured maximum (1009).
    case tooLarge(size: UInt64, limit: Int)
    /// A text message, or a close reason, that is not valid UTF-8 (1007).
    case invalidUTF8
    /// A close frame with a 1-byte payload or a code that may not be sent (1002).
    case invalidCloseCode(UInt16?)
    /// The peer sent nothing, not even a pong, within `seconds` of a keepalive ping (1011).
    case keepaliveTimeout(seconds: Double)
    /// A send after the closing handshake began, which RFC 6455 forbids.
    case closed

    /// The status code to close the connection with (RFC 6455 section 7.4.1).
    public var closeCode: UInt16 {
        switch self {
        case .tooLarge: 1009
        case .invalidUTF8: 1007
        case .keepaliveTimeout: 1011
        default: 1002
        }
    }

    public var description: String {
        switch self {
        case .reservedBitsSet: "a frame has reserved bits set"
        case .unknownOpcode(let opcode): "opcode 0x\(String(opcode, radix: 16)) is reserved"
        case .maskingViolation(let expected): expected ? "a client frame is not masked" : "a server frame is masked"
        case .invalidControlFrame(let reason): "invalid control frame: \(reason)"
        case .unexpectedContinuation(let reason): "unexpected fragment: \(reason)"
        case .invalidLength(let length): "invalid payload length \(length)"
        case .tooLarge(let size, let limit): "a \(size)-byte frame or message is over the \(limit)-byte limit"
        case .invalidUTF8: "a text message is not valid UTF-8"
        case .invalidCloseCode(let code): "invalid close code \(code.map(String.init) ?? "(1-byte payload)")"
        case .keepaliveTimeout(let seconds): "the peer did not answer a keepalive ping within \(seconds) s"
        case .closed: "the WebSocket is closing or closed; nothing more can be sent"
        }
    }
}
