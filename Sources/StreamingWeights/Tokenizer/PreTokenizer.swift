/// The second stage of a `tokenizer.json` pipeline: normalised text in, words out, as Hugging
/// Face `tokenizers`' pre-tokenizers (same names and behaviours).
public indirect enum PreTokenizer: Sendable {
    /// Each in turn, on the words of the one before.
    case sequence([PreTokenizer])
    /// Split at white space (removed) and around punctuation (each stands alone).
    case bert
    /// `\w+|[^\w\s]+`: runs of word characters and runs of other non-space characters.
    case whitespace
    /// Split at white space, removed.
    case whitespaceSplit
    /// Spaces become `replacement`, which may also begin the text, and words begin at it.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    /// GPT-2's byte-level words: an optional leading space, GPT-2's pattern, then each UTF-8
    /// byte spelled as one of 256 printable scalars.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Split at a pattern's matches (or between them, inverted).
    case split(TextPattern, SplitBehavior, invert: Bool)
    /// Split around punctuation characters.
    case punctuation(SplitBehavior)
    /// Split around digits, each alone or in runs.
    case digits(individually: Bool)
    /// Split at one character, removed.
    case characterDelimiter(Unicode.Scalar)

    /// When `Metaspace` puts its replacement before the text.
    public enum PrependScheme: String, Sendable {
        case always, first, never
    }

    /// What becomes of a split's delimiters (`tokenizers`' `SplitDelimiterBehavior`).
    public enum SplitBehavior: String, Sendable {
        case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous
    }

    /// A stretch of text on its way to becoming words.
    struct Piece {
        var scalars: [Unicode.Scalar]
        /// Whether it begins the original text (`Metaspace`'s `first` scheme asks).
        var startsText: Bool
    }

    /// The words of `pieces`.
    func split(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let stages):
            return stages.reduce(pieces) { $1.split($0) }
        case .bert:
            return PreTokenizer.punctuation(.isolated).split(PreTokenizer.whitespaceSplit.split(pieces))
        case .whitespace:
            return pieces.flatMap { piece in
                Self.pieces(of: piece, Self.wordRuns(piece.scalars), .removed, invert: true)
            }
        case .whitespaceSplit:
            return pieces.flatMap { Self.split($0, where: { $0.properties.isWhitespace }, .removed) }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { piece -> [Piece] in
                var piece = piece
                piece.scalars = piece.scalars.map { $0 == " " ? replacement : $0 }
                let prepends =
                    switch scheme {
                    case .always: true
                    case .first: piece.startsText
                    case .never: false
                    }
                if prepends, piece.scalars.first != replacement { piece.scalars.insert(replacement, at: 0) }
                return split ? Self.split(piece, where: { $0 == replacement }, .mergedWithNext) : [piece]
            }
        case .byteLevel(let addPrefixSpace, let useRegex):
            return pieces.flatMap { piece -> [Piece] in
                var piece = piece
                if addPrefixSpace, piece.scalars.first != " " { piece.scalars.insert(" ", at: 0) }
                let words =
                    useRegex
                    ? Self.pieces(of: piece, Self.gpt2Words(piece.scalars), .isolated)
                    : [piece]
                return words.map { word in
                    Piece(
                        scalars: word.scalars.utf8Bytes.map { ByteLevelAlphabet.scalars[Int($0)] },
                        startsText: word.startsText)
                }
            }
        case .split(let pattern, let behavior, let invert):
            return pieces.flatMap { piece in
                Self.pieces(of: piece, pattern.matches(in: piece.scalars), behavior, invert: invert)
            }
        case .punctuation(let behavior):
            return pieces.flatMap { Self.split($0, where: BasicTokenizer.isPunctuation, behavior) }
        case .digits(let individually):
            return pieces.flatMap {
                Self.split($0, where: Self.isNumber, individually ? .isolated : .contiguous)
            }
        case .characterDelimiter(let delimiter):
            return pieces.flatMap { Self.split($0, where: { $0 == delimiter }, .removed) }
        }
    }

    /// `piece` split at each scalar for which `isDelimiter` holds, one match per scalar.
    private static func split(_ piece: Piece, where isDelimiter: (Unicode.Scalar) -> Bool, _ behavior: SplitBehavior)
        -> [Piece]
    {
        var matches: [Range<Int>] = []
        for (index, scalar) in piece.scalars.enumerated() where isDelimiter(scalar) {
            matches.append(index..<(index + 1))
        }
        if matches.isEmpty { return piece.scalars.isEmpty ? [] : [piece] }
        return pieces(of: piece, matches, behavior)
    }

    /// `piece` cut at `matches` as `tokenizers`' `NormalizedString::split` cuts it.
    ///
    /// The matches (ascending, disjoint) and the stretches between them are the segments,
    /// marked as matches or not (`invert` swaps the marks); `behavior` decides what becomes of
    /// the matches. Empty results are dropped.
    private static func pieces(
        of piece: Piece, _ matches: [Range<Int>], _ behavior: SplitBehavior, invert: Bool = false
    ) -> [Piece] {
        var segments: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for range in matches {
            if range.lowerBound > previous { segments.append((previous..<range.lowerBound, invert)) }
            segments.append((range, !invert))
            previous = range.upperBound
        }
        if previous < piece.scalars.count { segments.append((previous..<piece.scalars.count, invert)) }

        var ranges: [Range<Int>] = []
        switch behavior {
        case .removed:
            ranges = segments.filter { !$0.isMatch }.map(\.range)
        case .isolated:
            ranges = segments.map(\.range)
        case .mergedWithPrevious:
            var previousMatch = false
            for segment in segments {
                if segment.isMatch, !previousMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = last.lowerBound..<segment.range.upperBound
                } else {
                    ranges.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for segment in segments.reversed() {
                if segment.isMatch, !previousMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = segment.range.lowerBound..<last.upperBound
                } else {
                    ranges.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
            ranges.reverse()
        case .contiguous:
            var previousMatch = false
            for segment in segments {
                if segment.isMatch == previousMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = last.lowerBound..<segment.range.upperBound
                } else {
                    ranges.append(segment.range)
                }
                previousMatch = segment.isMatch
            }
        }
        return ranges.filter { !$0.isEmpty }.map { range in
            Piece(scalars: Array(piece.scalars[range]), startsText: piece.startsText && range.lowerBound == 0)
        }
    }

    /// Onig's `\w`: letters and other alphabetic scalars, marks, decimal digits, connector
    /// punctuation and the join controls.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// Rust's `char::is_numeric`: categories Nd, Nl and No.
    static func isNumber(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// The matches of `\w+|[^\w\s]+`.
    private static func wordRuns(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var index = 0
        while index < text.count {
            if text[index].properties.isWhitespace {
                index += 1
                continue
            }
            let word = isWordCharacter(text[index])
            let start = index
            while index < text.count, !text[index].properties.isWhitespace, isWordCharacter(text[index]) == word {
                index += 1
            }
            runs.append(start..<index)
        }
        return runs
    }

    /// The matches of GPT-2's pattern,
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func gpt2Words(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        enum Class { case letter, number, space, other }
        func kind(_ scalar: Unicode.Scalar) -> Class {
            if scalar.isASCII {
                switch scalar.value {
                case 0x41...0x5a, 0x61...0x7a: return .letter
                case 0x30...0x39: return .number
                case 0x09...0x0d, 0x20: return .space
                default: return .other
                }
            }
            let properties = scalar.properties
            if properties.isWhitespace { return .space }
            switch properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
            case .decimalNumber, .letterNumber, .otherNumber: return .number
            default: return .other
            }
        }
        let classes = text.map(kind)
        var words: [Range<Int>] = []
        var index = 0
        while index < text.count {
            let start = index
            // The contractions.
            if text[index] == "'", index + 1 < text.count {
                let next = text[index + 1]
                if next == "s" || next == "t" || next == "m" || next == "d" {
                    words.append(index..<(index + 2))
                    index += 2
                    continue
                }
                if index + 2 < text.count {
                    let pair = (next, text[index + 2])
                    if pair == ("r", "e") || pair == ("v", "e") || pair == ("l", "l") {
                        words.append(index..<(index + 3))
                        index += 3
                        continue
                    }
                }
            }
            // An optional space, then a run of letters, numbers or other non-space scalars.
            var body = index
            if text[index] == " ", index + 1 < text.count, classes[index + 1] != .space { body = index + 1 }
            let runClass = classes[body]
            if runClass != .space {
                var end = body + 1
                while end < text.count, classes[end] == runClass { end += 1 }
                words.append(start..<end)
                index = end
                continue
            }
            // White space: all of it at the end of the text; before anything else, all but its
            // last scalar (which may begin the next word), or the one scalar alone.
            var end = index
            while end < text.count, classes[end] == .space { end += 1 }
            if end < text.count, end - index > 1 { end -= 1 }
            words.append(start..<end)
            index = end
        }
        return words
    }
}

/// GPT-2's spelling of bytes as printable scalars: printable Latin-1 bytes stand for
/// themselves, the other 68 take U+0100 onwards in byte order.
enum ByteLevelAlphabet {
    static let scalars: [Unicode.Scalar] = {
        var scalars: [Unicode.Scalar] = []
        var next: UInt32 = 256
        for byte in UInt32(0)..<256 {
            let printable = (0x21...0x7e).contains(byte) || (0xa1...0xac).contains(byte) || (0xae...0xff).contains(byte)
            if printable {
                scalars.append(Unicode.Scalar(UInt8(byte)))
            } else {
                scalars.append(Unicode.Scalar(next) ?? " ")
                next += 1
            }
        }
        return scalars
    }()
}
