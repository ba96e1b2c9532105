/// One RFC 6455 frame (section 5.2).
public struct WebSocketFrame: Sendable, Equatable {
    /// The frame's opcode.
    public enum Opcode: UInt8, Sendable {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA

        /// Close, ping and pong: at most 125 bytes, never fragmented.
        public var isControl: Bool { rawValue & 0x8 != 0 }
    }

    public var fin: Bool
    public var opcode: Opcode
    /// The payload, unmasked.
    public var payload: [UInt8]

    public init(fin: Bool = true, opcode: Opcode, payload: [UInt8] = []) {
        self.fin = fin
        self.opcode = opcode
        self.payload = payload
    }

    /// The header of an unmasked frame with this fin and opcode and a payload of `length` bytes.
    func headerBytes(payloadLength length: Int, masked: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch length {
        case 0...125:
            bytes.append(maskBit | UInt8(length))
        case 126...0xFFFF:
            bytes.append(maskBit | 126)
            bytes += [UInt8(length >> 8), UInt8(length & 0xFF)]
        default:
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64($0))) }
        }
        return bytes
    }

    /// The frame's bytes: masked with `maskingKey` (a client must mask, a server must not).
    public func encoded(maskingKey: (UInt8, UInt8, UInt8, UInt8)? = nil) -> [UInt8] {
        var bytes = headerBytes(payloadLength: payload.count, masked: maskingKey != nil)
        guard let key = maskingKey else { return bytes + payload }
        let mask = [key.0, key.1, key.2, key.3]
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return bytes
    }

    public static func == (lhs: WebSocketFrame, rhs: WebSocketFrame) -> Bool {
        lhs.fin == rhs.fin && lhs.opcode == rhs.opcode && lhs.payload == rhs.payload
    }
}
