/// Validates UTF-8 incrementally, so a text message split over fragments (even inside one
/// character) is checked as it arrives and rejected at the first impossible byte.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected in the current character.
    private var pending = 0
    /// The allowed range of the next byte (narrower than 80...BF right after some lead bytes,
    /// which rules out overlong forms, surrogates and values past U+10FFFF).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    public init() {}

    /// Whether the input so far can still be the start of valid UTF-8.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> Bool {
        for byte in bytes {
            if pending == 0 {
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: pending = 1
                case 0xE0: (pending, lower) = (2, 0xA0)
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2
                case 0xED: (pending, upper) = (2, 0x9F)
                case 0xF0: (pending, lower) = (3, 0x90)
                case 0xF1...0xF3: pending = 3
                case 0xF4: (pending, upper) = (3, 0x8F)
                default: return false
                }
            } else {
                guard byte >= lower && byte <= upper else { return false }
                pending -= 1
                (lower, upper) = (0x80, 0xBF)
            }
        }
        return true
    }

    /// Whether the input ended on a character boundary.
    public var isComplete: Bool { pending == 0 }
}
