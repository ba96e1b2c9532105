/// Turns frames into messages: reassembles fragments, validates text as it arrives, and checks
/// close frames (RFC 6455 sections 5.4, 5.5.1, 7.4).
public struct WebSocketMessageAssembler: Sendable {
    /// What the peer sent.
    public enum Event: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
        case ping([UInt8])
        case pong([UInt8])
        /// A close frame: its code (none when the payload was empty) and reason.
        case close(code: UInt16?, reason: String)
    }

    public let maximumMessageSize: Int
    private var fragments: [UInt8] = []
    private var fragmentOpcode: WebSocketFrame.Opcode?
    private var validator = UTF8Validator()

    public init(maximumMessageSize: Int = 64 << 20) {
        self.maximumMessageSize = maximumMessageSize
    }

    /// Whether a fragmented message has begun and not ended.
    public var isAssembling: Bool { fragmentOpcode != nil }

    /// The close codes a peer may send (section 7.4.1 and the IANA registry).
    public static func isValidCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }

    /// Takes one frame; returns the message or control event it completes, if any.
    ///
    /// - Throws: ``WebSocketError`` naming the violation (its ``WebSocketError/closeCode`` is the answer).
    public mutating func receive(_ frame: WebSocketFrame) throws(WebSocketError) -> Event? {
        switch frame.opcode {
        case .ping: return .ping(frame.payload)
        case .pong: return .pong(frame.payload)
        case .close:
            guard !frame.payload.isEmpty else { return .close(code: nil, reason: "") }
            guard frame.payload.count >= 2 else { throw WebSocketError.invalidCloseCode(nil) }
            let code = UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1])
            guard Self.isValidCloseCode(code) else { throw WebSocketError.invalidCloseCode(code) }
            guard let reason = String(validating: frame.payload[2...], as: UTF8.self) else {
                throw WebSocketError.invalidUTF8
            }
            return .close(code: code, reason: reason)
        case .text, .binary:
            guard fragmentOpcode == nil else {
                throw WebSocketError.unexpectedContinuation("a new message began before the last one ended")
            }
            fragmentOpcode = frame.opcode
            fragments = []
            validator = UTF8Validator()
        case .continuation:
            guard fragmentOpcode != nil else { throw WebSocketError.unexpectedContinuation("no message to continue") }
        }
        // A message in one frame needs no reassembly.
        if frame.fin, frame.opcode != .continuation {
            fragmentOpcode = nil
            guard frame.payload.count <= maximumMessageSize else {
                throw WebSocketError.tooLarge(size: UInt64(frame.payload.count), limit: maximumMessageSize)
            }
            if frame.opcode == .text {
                guard let text = String(validating: frame.payload, as: UTF8.self) else {
                    throw WebSocketError.invalidUTF8
                }
                return .text(text)
            }
            return .binary(frame.payload)
        }
        guard fragments.count + frame.payload.count <= maximumMessageSize else {
            throw WebSocketError.tooLarge(
                size: UInt64(fragments.count + frame.payload.count), limit: maximumMessageSize)
        }
        if fragmentOpcode == .text, !validator.feed(frame.payload) { throw WebSocketError.invalidUTF8 }
        fragments += frame.payload
        guard frame.fin else { return nil }
        defer {
            fragmentOpcode = nil
            fragments = []
        }
        if fragmentOpcode == .text {
            guard validator.isComplete else { throw WebSocketError.invalidUTF8 }
            return .text(String(decoding: fragments, as: UTF8.self))
        }
        return .binary(fragments)
    }
}
