import Foundation

/// BERT's text normalisation and pre-tokenisation: text in, words out.
///
/// Matches Hugging Face `tokenizers`' `BertNormalizer` followed by `BertPreTokenizer`, scalar by
/// scalar (a Unicode scalar is what Rust calls a `char`):
/// 1. clean: NUL, U+FFFD and control characters (categories Cc, Cf, Co, except tab, newline and
///    carriage return) are dropped; white space becomes a space;
/// 2. CJK ideographs get a space on each side, so each is a word;
/// 3. accents are stripped (NFD, then nonspacing marks, category Mn, dropped) when asked, or
///    when lower-casing and not told otherwise;
/// 4. lower-casing (full Unicode mapping, scalar by scalar: no final-sigma rule);
/// 5. words split at white space, and each punctuation character (ASCII punctuation, or
///    Unicode categories P*) stands alone.
/// The categories are Unicode 8.0's, as `tokenizers` has them (``BertCharacterClasses``), not
/// the newer ones Swift knows. ASCII, the common case, takes a fast path by table.
public struct BasicTokenizer: Sendable {
    /// Whether to lower-case.
    public let lowercases: Bool
    /// Whether to strip accents.
    public let stripsAccents: Bool
    /// Whether to split CJK ideographs into words of their own.
    public let splitsChineseCharacters: Bool
    private let scalarCache: ScalarCache

    /// - Parameter stripAccents: `nil` strips accents exactly when lower-casing, as transformers does.
    public init(lowercase: Bool = true, stripAccents: Bool? = nil, splitChineseCharacters: Bool = true) {
        lowercases = lowercase
        stripsAccents = stripAccents ?? lowercase
        splitsChineseCharacters = splitChineseCharacters
        scalarCache = ScalarCache()
    }

    /// What one input scalar becomes.
    enum ScalarRole: Sendable {
        /// Removed.
        case dropped
        /// Ends the current word.
        case whitespace
        /// A word of its own (punctuation, a CJK ideograph), as UTF-8.
        case isolated([UInt8])
        /// Part of a word: these scalars, as UTF-8, and how many scalars they are.
        case word([UInt8], scalarCount: Int)
        /// Several of the above, when normalisation turned one scalar into several.
        indirect case sequence([ScalarRole])
    }

    /// Calls `body` with each word of `text` as UTF-8 bytes and its length in scalars.
    public func forEachWord(in text: String, _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) {
        var word: [UInt8] = []
        word.reserveCapacity(64)
        var scalars = 0
        func flush() {
            guard !word.isEmpty else { return }
            word.withUnsafeBufferPointer { body($0, scalars) }
            word.removeAll(keepingCapacity: true)
            scalars = 0
        }
        var text = text
        text.withUTF8 { utf8 in
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                if byte < 0x80 {
                    index += 1
                    switch Self.asciiClass[Int(byte)] {
                    case 0: break
                    case 1: flush()
                    case 2:
                        flush()
                        word.append(byte)
                        scalars = 1
                        flush()
                    default:
                        word.append(lowercases && byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte)
                        scalars += 1
                    }
                    continue
                }
                let (scalar, length) = Self.decode(utf8, at: index)
                index += length
                func apply(_ role: ScalarRole) {
                    switch role {
                    case .dropped: break
                    case .whitespace: flush()
                    case .isolated(let bytes):
                        flush()
                        word.append(contentsOf: bytes)
                        scalars = 1
                        flush()
                    case .word(let bytes, let count):
                        word.append(contentsOf: bytes)
                        scalars += count
                    case .sequence(let roles):
                        roles.forEach(apply)
                    }
                }
                apply(role(of: scalar))
            }
        }
        flush()
    }

    /// The words of `text`, for tests and callers that want them as strings.
    public func words(_ text: String) -> [String] {
        var words: [String] = []
        forEachWord(in: text) { bytes, _ in words.append(String(decoding: bytes, as: UTF8.self)) }
        return words
    }

    /// ASCII classes: 0 dropped (controls), 1 white space, 2 punctuation, 3 word character.
    private static let asciiClass: [UInt8] = (0..<128).map { code in
        switch code {
        case 0x09, 0x0a, 0x0d, 0x20: 1
        case 0x00..<0x20, 0x7f: 0
        case 33...47, 58...64, 91...96, 123...126: 2
        default: 3
        }
    }

    /// Decodes the scalar starting at `index` of valid UTF-8.
    @inline(__always)
    private static func decode(_ utf8: UnsafeBufferPointer<UInt8>, at index: Int) -> (Unicode.Scalar, Int) {
        let lead = UInt32(utf8[index])
        let length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
        var value = lead & (0xff >> (length + 1))
        for offset in 1..<length {
            value = value << 6 | (UInt32(utf8[index + offset]) & 0x3f)
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }

    /// The role of a non-ASCII scalar, computed once per distinct scalar.
    private func role(of scalar: Unicode.Scalar) -> ScalarRole {
        if let cached = scalarCache[scalar.value] { return cached }
        let role = computeRole(of: scalar)
        scalarCache[scalar.value] = role
        return role
    }

    private func computeRole(of scalar: Unicode.Scalar) -> ScalarRole {
        let value = scalar.value
        if Self.contains(BertCharacterClasses.cleanedAway, value) { return .dropped }
        if Self.contains(BertCharacterClasses.cleanedToSpace, value) { return .whitespace }
        let isChinese = splitsChineseCharacters && Self.contains(BertCharacterClasses.chineseCharacters, value)
        var pieces: [Unicode.Scalar] = [scalar]
        if stripsAccents {
            pieces = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { !Self.contains(BertCharacterClasses.nonspacingMarks, $0.value) }
        }
        if lowercases {
            pieces = pieces.flatMap { Array($0.properties.lowercaseMapping.unicodeScalars) }
        }
        // Spacing out CJK comes before accent stripping, which maps compatibility ideographs
        // (U+F900...) to unified ones: the normalised result is the isolated word.
        if isChinese {
            return pieces.isEmpty ? .dropped : .isolated(pieces.flatMap { Array(String($0).utf8) })
        }
        // Punctuation is decided on the normalised scalars, each standing alone.
        let roles: [ScalarRole] = pieces.map { piece in
            Self.isPunctuation(piece)
                ? .isolated(Array(String(piece).utf8)) : .word(Array(String(piece).utf8), scalarCount: 1)
        }
        if roles.count == 1 { return roles[0] }
        if roles.allSatisfy({ if case .word = $0 { true } else { false } }) {
            return .word(pieces.flatMap { Array(String($0).utf8) }, scalarCount: pieces.count)
        }
        return roles.isEmpty ? .dropped : .sequence(roles)
    }

    /// Whether `value` lies in one of `ranges`, which are sorted and disjoint.
    static func contains(_ ranges: [ClosedRange<UInt32>], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < ranges.count && ranges[low].contains(value)
    }

    /// ASCII punctuation (which includes `$+<=>^`|~`) or a Unicode punctuation category, as of
    /// Unicode 8.0 as `tokenizers` has it.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return asciiClass[Int(scalar.value)] == 2 }
        return contains(BertCharacterClasses.punctuation, scalar.value)
    }
}

/// The roles of the non-ASCII scalars seen so far, shared by every copy of a tokenizer.
final class ScalarCache: Sendable {
    private let roles = Locked<[UInt32: BasicTokenizer.ScalarRole]>([:])

    subscript(scalar: UInt32) -> BasicTokenizer.ScalarRole? {
        get { roles.withLock { $0[scalar] } }
        set { roles.withLock { $0[scalar] = newValue } }
    }
}
