extension Array where Element == Unicode.Scalar {
    /// The scalars as UTF-8, encoded directly (no `String` on the way).
    var utf8Bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + count / 2)
        for scalar in self {
            let value = scalar.value
            switch value {
            case 0..<0x80:
                bytes.append(UInt8(value))
            case 0x80..<0x800:
                bytes += [UInt8(0xc0 | value >> 6), UInt8(0x80 | value & 0x3f)]
            case 0x800..<0x10000:
                bytes += [UInt8(0xe0 | value >> 12), UInt8(0x80 | (value >> 6) & 0x3f), UInt8(0x80 | value & 0x3f)]
            default:
                bytes += [
                    UInt8(0xf0 | value >> 18), UInt8(0x80 | (value >> 12) & 0x3f), UInt8(0x80 | (value >> 6) & 0x3f),
                    UInt8(0x80 | value & 0x3f),
                ]
            }
        }
        return bytes
    }
}
