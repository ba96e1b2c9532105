/// What `Replace` and `Split` look for in a `tokenizer.json`: a literal string or a regular
/// expression (`{"String": ...}` or `{"Regex": ...}`).
///
/// Regular expressions run on ``TokenizerRegex`` (Oniguruma's syntax, as `tokenizers` reads it,
/// each match found in time linear in the text whatever the pattern), except a run of one character (`" {2,}"`, which
/// XLM-R's normalizer replaces, or `"x+"`), matched by hand for speed; `ByteLevel`'s own GPT-2
/// pattern is written out in ``PreTokenizer``.
public struct TextPattern: Sendable {
    private enum Kind: Sendable {
        case literal([Unicode.Scalar])
        case regex(TokenizerRegex)
        /// `minimum` or more of `scalar`, as many as there are.
        case run(Unicode.Scalar, minimum: Int)
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
    /// - Throws: ``TokenizerRegex/SyntaxError`` when `pattern` does not parse or uses a construct
    ///   the matcher does not implement.
    public init(regex pattern: String) throws {
        source = pattern
        if let run = Self.run(pattern) {
            kind = .run(run.scalar, minimum: run.minimum)
            return
        }
        kind = .regex(try TokenizerRegex(pattern))
    }

    /// `pattern` as a run of one literal character (`c+`, `c{n,}`, `\\c+`...), when it is one.
    private static func run(_ pattern: String) -> (scalar: Unicode.Scalar, minimum: Int)? {
        var scalars = Array(pattern.unicodeScalars)
        let special = Set(".^$|?*+()[]{}\\".unicodeScalars)
        guard let first = scalars.first else { return nil }
        var scalar = first
        if first == "\\" {
            guard scalars.count > 1, special.contains(scalars[1]) else { return nil }
            scalar = scalars[1]
            scalars.removeFirst(2)
        } else {
            guard !special.contains(first) else { return nil }
            scalars.removeFirst()
        }
        let quantifier = String(String.UnicodeScalarView(scalars))
        if quantifier == "+" { return (scalar, 1) }
        guard quantifier.hasPrefix("{"), quantifier.hasSuffix(",}"),
            let minimum = Int(quantifier.dropFirst().dropLast(2)), minimum >= 1
        else { return nil }
        return (scalar, minimum)
    }

    /// The non-overlapping matches in `text`, left to right, as scalar offsets; empty matches
    /// are left out.
    public func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
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
        case .run(let scalar, let minimum):
            var matches: [Range<Int>] = []
            var index = 0
            while index < text.count {
                guard text[index] == scalar else {
                    index += 1
                    continue
                }
                var end = index + 1
                while end < text.count, text[end] == scalar { end += 1 }
                if end - index >= minimum { matches.append(index..<end) }
                index = end
            }
            return matches
        case .regex(let regex):
            return regex.matches(in: text)
        }
    }
}
