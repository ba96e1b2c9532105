/// What `Replace` and `Split` look for in a `tokenizer.json`: a literal string or a regular
/// expression (`{"String": ...}` or `{"Regex": ...}`).
///
/// Regular expressions run on Swift's `Regex` with Unicode-scalar semantics, which reads the
/// Oniguruma syntax `tokenizers` models use (`\p{L}`, `\s`, look-ahead); `ByteLevel`'s own GPT-2
/// pattern is written out by hand in ``PreTokenizer`` for speed.
public struct TextPattern: @unchecked Sendable {
    private enum Kind {
        case literal([Unicode.Scalar])
        case regex(Regex<AnyRegexOutput>)
    }
    private let kind: Kind
    /// The pattern as written, for messages.
    public let source: String

    /// A literal pattern.
    public init(literal: String) {
        kind = .literal(Array(literal.unicodeScalars))
        source = literal
    }

    /// A regular expression.
    ///
    /// - Throws: the `Regex` parser's error when `pattern` is not one.
    public init(regex pattern: String) throws {
        kind = .regex(try Regex(pattern).matchingSemantics(.unicodeScalar))
        source = pattern
    }

    /// The non-overlapping matches in `text`, left to right, as scalar offsets; empty matches
    /// are left out.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        switch kind {
        case .literal(let literal):
            guard !literal.isEmpty, literal.count <= text.count else { return [] }
            var matches: [Range<Int>] = []
            var index = 0
            while index + literal.count <= text.count {
                if text[index] == literal[0], text[index..<(index + literal.count)].elementsEqual(literal) {
                    matches.append(index..<(index + literal.count))
                    index += literal.count
                } else {
                    index += 1
                }
            }
            return matches
        case .regex(let regex):
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: text)
            let string = String(scalars)
            var matches: [Range<Int>] = []
            var position = string.unicodeScalars.startIndex
            var offset = 0
            for match in string.matches(of: regex) where !match.range.isEmpty {
                let start = offset + string.unicodeScalars.distance(from: position, to: match.range.lowerBound)
                let end =
                    start + string.unicodeScalars.distance(from: match.range.lowerBound, to: match.range.upperBound)
                matches.append(start..<end)
                position = match.range.upperBound
                offset = end
            }
            return matches
        }
    }
}
