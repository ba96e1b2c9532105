/// Turns a byte stream into frames, incrementally: bytes may arrive split anywhere.
///
/// An explicit state machine over the frame header (RFC 6455 section 5.2). Everything that can
/// be checked from the header is checked before the payload is waited for, so a hostile length
/// (2^63, or just over the limit) is refused without allocating.
public struct WebSocketFrameDecoder: Sendable {
    /// What the decoder is waiting for.
    enum State: Sendable {
        /// The first two header bytes.
        case header
        /// `count` more bytes of the extended length (2 or 8).
        case extendedLength(count: Int)
        /// The 4-byte masking key.
        case maskingKey
        /// `remaining` bytes of payload.
        case payload(remaining: Int)
    }

    /// Whether frames must be masked: true on a server (frames from clients), false on a client.
    public let expectsMasked: Bool
    /// The largest frame payload accepted.
    public let maximumFrameSize: Int

    private var state = State.header
    private var buffer: [UInt8] = []
    private var fin = false
    private var opcode = WebSocketFrame.Opcode.binary
    private var masked = false
    private var length: UInt64 = 0
    private var mask: [UInt8] = [0, 0, 0, 0]
    private var payload: [UInt8] = []

    public init(expectsMasked: Bool, maximumFrameSize: Int = 16 << 20) {
        self.expectsMasked = expectsMasked
        self.maximumFrameSize = maximumFrameSize
    }

    /// Feeds bytes and returns the frames they complete.
    ///
    /// - Throws: ``WebSocketError`` for the first violation; the stream is then unusable.
    public mutating func decode(_ bytes: some Collection<UInt8>) throws -> [WebSocketFrame] {
        buffer.append(contentsOf: bytes)
        var frames: [WebSocketFrame] = []
        var position = 0
        defer { buffer.removeFirst(position) }
        while true {
            switch state {
            case .header:
                guard buffer.count - position >= 2 else { return frames }
                let first = buffer[position]
                let second = buffer[position + 1]
                position += 2
                guard first & 0x70 == 0 else { throw WebSocketError.reservedBitsSet }
                guard let code = WebSocketFrame.Opcode(rawValue: first & 0x0F) else {
                    throw WebSocketError.unknownOpcode(first & 0x0F)
                }
                fin = first & 0x80 != 0
                opcode = code
                masked = second & 0x80 != 0
                guard masked == expectsMasked else {
                    throw WebSocketError.maskingViolation(expectedMasked: expectsMasked)
                }
                let shortLength = second & 0x7F
                if code.isControl {
                    guard fin else { throw WebSocketError.invalidControlFrame("fragmented") }
                    guard shortLength <= 125 else { throw WebSocketError.invalidControlFrame("payload over 125 bytes") }
                }
                switch shortLength {
                case 126: state = .extendedLength(count: 2)
                case 127: state = .extendedLength(count: 8)
                default:
                    length = UInt64(shortLength)
                    state = masked ? .maskingKey : .payload(remaining: Int(length))
                    try startPayload()
                }
            case .extendedLength(let count):
                guard buffer.count - position >= count else { return frames }
                length = buffer[position..<(position + count)].reduce(0) { $0 << 8 | UInt64($1) }
                position += count
                guard length >> 63 == 0 else { throw WebSocketError.invalidLength(length) }
                guard count == 2 ? length >= 126 : length > 0xFFFF else { throw WebSocketError.invalidLength(length) }
                guard length <= UInt64(maximumFrameSize) else {
                    throw WebSocketError.tooLarge(size: length, limit: maximumFrameSize)
                }
                state = masked ? .maskingKey : .payload(remaining: Int(length))
                try startPayload()
            case .maskingKey:
                guard buffer.count - position >= 4 else { return frames }
                mask = Array(buffer[position..<(position + 4)])
                position += 4
                state = .payload(remaining: Int(length))
            case .payload(let remaining):
                let available = min(remaining, buffer.count - position)
                if available > 0 {
                    let start = payload.count
                    payload += buffer[position..<(position + available)]
                    if masked {
                        for index in start..<payload.count { payload[index] ^= mask[index & 3] }
                    }
                    position += available
                }
                guard available == remaining else {
                    state = .payload(remaining: remaining - available)
                    return frames
                }
                frames.append(WebSocketFrame(fin: fin, opcode: opcode, payload: payload))
                payload = []
                state = .header
            }
        }
    }

    private mutating func startPayload() throws {
        guard length <= UInt64(maximumFrameSize) else {
            throw WebSocketError.tooLarge(size: length, limit: maximumFrameSize)
        }
        payload = []
        payload.reserveCapacity(Int(min(length, 1 << 20)))
    }
}
