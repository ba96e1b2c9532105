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

    /// A frame header: `fin`, `opcode`, the payload length in its shortest form, and the
    /// masking key when there is one (section 5.2).
    static func header(fin: Bool, opcode: Opcode, payloadLength length: Int, maskingKey: [UInt8]? = nil) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
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
        return bytes + (maskingKey ?? [])
    }

    /// XORs `bytes` with the 4-byte masking `key` in place (section 5.3).
    ///
    /// `bytes` is the part of a payload that starts `offset` bytes into it. Masking and
    /// unmasking are the same.
    static func applyMask(_ key: [UInt8], to bytes: UnsafeMutableRawBufferPointer, payloadOffset offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let rotated = (0..<4).map { key[(offset + $0) & 3] }
        // The hot loop: eight bytes at a time with the key repeated twice, then the tail. Plain
        // 64-bit words, which every build compiles well (and vectorises); SIMD32<UInt8> without a
        // CPU flag was lowered lane by lane, 70% of a client's time under load.
        var wide: UInt64 = 0
        for lane in 0..<8 { wide |= UInt64(rotated[lane & 3]) << (8 * UInt64(lane)) }
        let words = bytes.count / 8
        for word in 0..<words {
            let value = base.loadUnaligned(fromByteOffset: word * 8, as: UInt64.self)
            base.storeBytes(of: value ^ wide, toByteOffset: word * 8, as: UInt64.self)
        }
        for index in (words * 8)..<bytes.count {
            bytes[index] ^= rotated[index & 3]
        }
    }

    /// The frame's bytes: masked with `maskingKey` (a client must mask, a server must not).
    public func encoded(maskingKey: (UInt8, UInt8, UInt8, UInt8)? = nil) -> [UInt8] {
        let key = maskingKey.map { [$0.0, $0.1, $0.2, $0.3] }
        var masked = payload
        if let key { masked.withUnsafeMutableBytes { Self.applyMask(key, to: $0, payloadOffset: 0) } }
        return Self.header(fin: fin, opcode: opcode, payloadLength: payload.count, maskingKey: key) + masked
    }

    public static func == (lhs: WebSocketFrame, rhs: WebSocketFrame) -> Bool {
        lhs.fin == rhs.fin && lhs.opcode == rhs.opcode && lhs.payload == rhs.payload
    }
}
