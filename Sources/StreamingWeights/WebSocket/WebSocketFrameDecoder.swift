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
        /// `remaining` bytes of payload that the caller takes itself (``deliverDiverted(_:)``).
        case diverted(remaining: Int)
    }

    /// Whether frames must be masked: true on a server (frames from clients), false on a client.
    public let expectsMasked: Bool
    /// The largest frame payload accepted.
    public let maximumFrameSize: Int

    private var state = State.header
    /// Header bytes of a header that arrived split, until it is whole.
    private var partial: [UInt8] = []
    private var fin = false
    private var opcode = WebSocketFrame.Opcode.binary
    private var masked = false
    private var length: UInt64 = 0
    private var mask: [UInt8] = [0, 0, 0, 0]
    private var payload: [UInt8] = []
    /// Whether the ``decode(_:divertingContinuations:)`` running diverts continuation payloads.
    private var divertsContinuations = false

    public init(expectsMasked: Bool, maximumFrameSize: Int = 16 << 20) {
        self.expectsMasked = expectsMasked
        self.maximumFrameSize = maximumFrameSize
    }

    /// Feeds bytes and returns the frames they complete.
    ///
    /// - Throws: ``WebSocketError`` for the first violation; the stream is then unusable.
    public mutating func decode(_ bytes: some Collection<UInt8>) throws -> [WebSocketFrame] {
        try Array(bytes).withUnsafeBytes { try decode($0) }
    }

    /// Feeds bytes and returns the frames they complete; payload bytes are copied once, from
    /// `input` into their frame.
    ///
    /// Frames that precede a violation are returned first, and the violation is kept in
    /// ``violation`` (and thrown by the next call), so that a peer's valid messages are handled
    /// before the connection fails, as RFC 6455 orders it.
    ///
    /// - Throws: ``WebSocketError`` for the first violation; the stream is then unusable.
    public mutating func decode(_ input: UnsafeRawBufferPointer) throws -> [WebSocketFrame] {
        try decode(input, divertingContinuations: false, stoppingAfterData: false).frames
    }

    /// Feeds bytes up to the end of the next data frame, so the caller can act on each data
    /// frame before the next is decoded; returns the frames decoded and how many bytes of
    /// `input` were used (the rest is to be fed again).
    ///
    /// With `divertingContinuations`, it also stops at the payload of an unmasked continuation
    /// frame of one byte or more: the payload is then left to the caller, who places the bytes
    /// where they belong (reading them from the socket straight into their destination, say)
    /// and reports them with ``deliverDiverted(_:)``; ``divertedRemaining`` says how many are
    /// still to come. Violations are handled as ``decode(_:)-(UnsafeRawBufferPointer)`` does.
    public mutating func decode(_ input: UnsafeRawBufferPointer, divertingContinuations: Bool) throws -> (
        frames: [WebSocketFrame], consumed: Int
    ) {
        try decode(input, divertingContinuations: divertingContinuations, stoppingAfterData: true)
    }

    /// The payload bytes of the diverted frame still to come, while one is diverted.
    public var divertedRemaining: Int? {
        if case .diverted(let remaining) = state { remaining } else { nil }
    }

    /// Counts `count` more bytes of the diverted frame's payload as delivered by the caller;
    /// returns the frame, with an empty payload, once the last has been.
    public mutating func deliverDiverted(_ count: Int) -> WebSocketFrame? {
        guard case .diverted(let remaining) = state, count > 0, count <= remaining else {
            preconditionFailure("\(count) diverted bytes delivered where \(state) was expected")
        }
        guard count == remaining else {
            state = .diverted(remaining: remaining - count)
            return nil
        }
        state = .header
        return WebSocketFrame(fin: fin, opcode: opcode)
    }

    private mutating func decode(
        _ input: UnsafeRawBufferPointer, divertingContinuations: Bool, stoppingAfterData: Bool
    ) throws -> (frames: [WebSocketFrame], consumed: Int) {
        if let violation { throw violation }
        divertsContinuations = divertingContinuations
        var frames: [WebSocketFrame] = []
        var consumed = 0
        do {
            consumed = try decode(input, into: &frames, stoppingAfterData: stoppingAfterData)
        } catch let error as WebSocketError {
            violation = error
            if frames.isEmpty { throw error }
        }
        return (frames, consumed)
    }

    /// The violation found after the frames the last ``decode(_:)-(UnsafeRawBufferPointer)`` returned, if any.
    public private(set) var violation: WebSocketError?

    /// Decodes frames into `frames`; returns how many bytes of `input` it used.
    private mutating func decode(
        _ input: UnsafeRawBufferPointer, into frames: inout [WebSocketFrame], stoppingAfterData: Bool
    ) throws -> Int {
        var position = 0
        /// The next `count` header bytes, once they have all arrived (from `partial` and `input`).
        func take(_ count: Int) -> [UInt8]? {
            let needed = count - partial.count
            let available = min(needed, input.count - position)
            partial += input[position..<(position + available)]
            position += available
            guard available == needed else { return nil }
            defer { partial = [] }
            return partial
        }
        while true {
            switch state {
            case .header:
                guard let header = take(2) else { return position }
                let first = header[0]
                let second = header[1]
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
                    try startPayload()
                }
            case .extendedLength(let count):
                guard let bytes = take(count) else { return position }
                length = bytes.reduce(0) { $0 << 8 | UInt64($1) }
                guard length >> 63 == 0 else { throw WebSocketError.invalidLength(length) }
                guard count == 2 ? length >= 126 : length > 0xFFFF else { throw WebSocketError.invalidLength(length) }
                try startPayload()
            case .maskingKey:
                guard let key = take(4) else { return position }
                mask = key
                state = .payload(remaining: Int(length))
            case .payload(let remaining):
                let available = min(remaining, input.count - position)
                if available > 0 {
                    let start = payload.count
                    payload.append(
                        contentsOf: UnsafeRawBufferPointer(rebasing: input[position..<(position + available)]))
                    if masked {
                        payload.withUnsafeMutableBytes {
                            WebSocketFrame.applyMask(
                                mask, to: UnsafeMutableRawBufferPointer(rebasing: $0[start...]), payloadOffset: start)
                        }
                    }
                    position += available
                }
                guard available == remaining else {
                    state = .payload(remaining: remaining - available)
                    return position
                }
                frames.append(WebSocketFrame(fin: fin, opcode: opcode, payload: payload))
                payload = []
                state = .header
                if stoppingAfterData, !opcode.isControl { return position }
            case .diverted:
                return position
            }
        }
    }

    /// Checks the length against the limit before any payload is waited for or allocated.
    private mutating func startPayload() throws {
        guard length <= UInt64(maximumFrameSize) else {
            throw WebSocketError.tooLarge(size: length, limit: maximumFrameSize)
        }
        payload = []
        if divertsContinuations, !masked, opcode == .continuation, length > 0 {
            state = .diverted(remaining: Int(length))
            return
        }
        state = masked ? .maskingKey : .payload(remaining: Int(length))
        payload.reserveCapacity(Int(length))
    }
}
