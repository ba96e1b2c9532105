import Foundation

/// The first stage of a `tokenizer.json` pipeline: text in, text out, as Hugging Face
/// `tokenizers`' normalizers (same names, same order of operations).
public indirect enum TextNormalizer: Sendable {
    /// Each in turn.
    case sequence([TextNormalizer])
    /// BERT's cleaning, CJK spacing, accent stripping and lower-casing (``BasicTokenizer``'s
    /// first half); `stripAccents` `nil` strips exactly when lower-casing.
    case bert(cleanText: Bool, handleChineseCharacters: Bool, stripAccents: Bool?, lowercase: Bool)
    /// Unicode normalisation forms.
    case nfc, nfd, nfkc, nfkd
    /// Each scalar's full lower-case mapping (no final-sigma rule, as `tokenizers`).
    case lowercase
    /// White space (Unicode `White_Space`) removed from either end.
    case strip(left: Bool, right: Bool)
    /// Combining marks (categories Mn, Mc, Me) removed; models put it after NFD or NFKD.
    case stripAccents
    /// Every match of a pattern replaced.
    case replace(TextPattern, with: [Unicode.Scalar])
    /// Text put before a non-empty text.
    case prepend([Unicode.Scalar])
    /// SentencePiece's rules.
    case precompiled(PrecompiledCharsmap)

    /// `text` normalised.
    public func normalize(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .sequence(let normalizers):
            return normalizers.reduce(text) { $1.normalize($0) }
        case .bert(let cleanText, let chinese, let stripAccents, let lowercase):
            return Self.bertNormalize(
                text, cleanText: cleanText, chinese: chinese, stripAccents: stripAccents ?? lowercase,
                lowercase: lowercase)
        case .nfc: return Self.unicodeForm(text) { $0.precomposedStringWithCanonicalMapping }
        case .nfd: return Self.unicodeForm(text) { $0.decomposedStringWithCanonicalMapping }
        case .nfkc: return Self.unicodeForm(text) { $0.precomposedStringWithCompatibilityMapping }
        case .nfkd: return Self.unicodeForm(text) { $0.decomposedStringWithCompatibilityMapping }
        case .lowercase:
            return text.flatMap { scalar -> [Unicode.Scalar] in
                if scalar.isASCII {
                    let byte = UInt8(truncatingIfNeeded: scalar.value)
                    return [byte >= 0x41 && byte <= 0x5a ? Unicode.Scalar(byte | 0x20) : scalar]
                }
                return Array(scalar.properties.lowercaseMapping.unicodeScalars)
            }
        case .strip(let left, let right):
            var start = 0
            var end = text.count
            if left { while start < end, text[start].properties.isWhitespace { start += 1 } }
            if right { while end > start, text[end - 1].properties.isWhitespace { end -= 1 } }
            return Array(text[start..<end])
        case .stripAccents:
            return text.filter { !Self.isCombiningMark($0) }
        case .replace(let pattern, let content):
            var output: [Unicode.Scalar] = []
            var previous = 0
            for match in pattern.matches(in: text) {
                output += text[previous..<match.lowerBound]
                output += content
                previous = match.upperBound
            }
            output += text[previous...]
            return output
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .precompiled(let charsmap):
            return charsmap.normalize(text)
        }
    }

    static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    private static func unicodeForm(_ text: [Unicode.Scalar], _ form: (NSString) -> String) -> [Unicode.Scalar] {
        if text.allSatisfy(\.isASCII) { return text }
        var string = String.UnicodeScalarView()
        string.append(contentsOf: text)
        return Array(form(String(string) as NSString).unicodeScalars)
    }

    /// `tokenizers`' `BertNormalizer`, with the character classes ``BasicTokenizer`` uses.
    private static func bertNormalize(
        _ text: [Unicode.Scalar], cleanText: Bool, chinese: Bool, stripAccents: Bool, lowercase: Bool
    ) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(text.count)
        for scalar in text {
            let value = scalar.value
            if cleanText {
                if value == 0 || value == 0xFFFD
                    || (BasicTokenizer.contains(BertCharacterClasses.cleanedAway, value)
                        && scalar != "\t" && scalar != "\n" && scalar != "\r")
                {
                    continue
                }
                if BasicTokenizer.contains(BertCharacterClasses.cleanedToSpace, value) {
                    output.append(" ")
                    continue
                }
            }
            if chinese, BasicTokenizer.contains(BertCharacterClasses.chineseCharacters, value) {
                output += [" ", scalar, " "]
            } else {
                output.append(scalar)
            }
        }
        if stripAccents {
            output = unicodeForm(output) { $0.decomposedStringWithCanonicalMapping }
                .filter { !BasicTokenizer.contains(BertCharacterClasses.nonspacingMarks, $0.value) }
        }
        if lowercase { output = TextNormalizer.lowercase.normalize(output) }
        return output
    }
}
