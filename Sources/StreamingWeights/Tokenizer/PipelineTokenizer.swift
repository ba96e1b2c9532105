/// A `tokenizer.json` pipeline, run as Hugging Face `tokenizers` runs it: added tokens are cut
/// out of the text, the rest is normalised, cut into words, and each word into model tokens;
/// truncation, then the post-processor's special tokens.
///
/// Models: WordPiece, Unigram (XLM-R, mT5, ALBERT), byte-pair encoding (GPT-2, RoBERTa).
/// ``TokenizerLoader`` builds one from a model's files (``init(files:location:maximumPositions:)``).
public struct PipelineTokenizer: TextTokenizer {
    /// The model that turns a word into tokens.
    public enum Model: Sendable {
        case wordPiece(WordPieceTokenizer)
        case unigram(UnigramModel)
        case bytePair(BytePairModel)

        var vocabulary: Vocabulary {
            switch self {
            case .wordPiece(let model): model.vocabulary
            case .unigram(let model): model.vocabulary
            case .bytePair(let model): model.vocabulary
            }
        }
    }

    /// A token matched whole in the text, before normalisation or after (`normalized`).
    public struct AddedToken: Sendable {
        public var content: String
        public var id: Int32
        /// Only where no word character touches it on either side.
        public var singleWord: Bool
        /// Takes the white space on its left (`leftStrip`) or right with it.
        public var leftStrip: Bool
        public var rightStrip: Bool
        /// Matched in the normalised text (by its normalised content) rather than the raw text.
        public var normalized: Bool
    }

    public let normalizer: TextNormalizer?
    public let preTokenizer: PreTokenizer?
    public let model: Model
    public let postProcessor: PostProcessor
    public let addedTokens: [AddedToken]
    /// The longest encoding, special tokens included.
    public var maximumLength: Int
    public let paddingID: Int32
    /// The added tokens matched in the raw text, then those matched in normalised text (by
    /// their normalised content).
    private let rawTokens: AddedTokenSet
    private let normalizedTokens: AddedTokenSet
    private let addedTokenTexts: [Int32: String]

    public init(
        normalizer: TextNormalizer?, preTokenizer: PreTokenizer?, model: Model, postProcessor: PostProcessor,
        addedTokens: [AddedToken], maximumLength: Int, paddingID: Int32
    ) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.addedTokens = addedTokens
        self.maximumLength = maximumLength
        self.paddingID = paddingID
        rawTokens = AddedTokenSet(
            addedTokens.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0) })
        normalizedTokens = AddedTokenSet(
            addedTokens.filter(\.normalized).map { token in
                let scalars = Array(token.content.unicodeScalars)
                return (normalizer?.normalize(scalars) ?? scalars, token)
            })
        var texts: [Int32: String] = [:]
        for token in addedTokens { texts[token.id] = token.content }
        addedTokenTexts = texts
    }

    /// A stretch of the text: an added token's id, or text still to tokenize.
    private enum Segment {
        case token(Int32)
        case text([Unicode.Scalar], startsText: Bool)
    }

    /// The ids of `text`'s tokens, without special tokens around them.
    public func tokenize(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        let scalars = Array(text.unicodeScalars)
        for segment in Self.split(scalars, startsText: true, at: rawTokens) {
            switch segment {
            case .token(let id):
                ids.append(id)
            case .text(let raw, let startsText):
                let normalized = normalizer?.normalize(raw) ?? raw
                for part in Self.split(normalized, startsText: startsText, at: normalizedTokens) {
                    switch part {
                    case .token(let id):
                        ids.append(id)
                    case .text(let text, let startsText):
                        let piece = PreTokenizer.Piece(scalars: text, startsText: startsText)
                        for word in preTokenizer?.split([piece]) ?? [piece] where !word.scalars.isEmpty {
                            append(word: word.scalars, to: &ids)
                        }
                    }
                }
            }
        }
        return ids
    }

    private func append(word: [Unicode.Scalar], to ids: inout [Int32]) {
        switch model {
        case .wordPiece(let wordPiece):
            word.utf8Bytes.withUnsafeBufferPointer { wordPiece.append(word: $0, scalarCount: word.count, to: &ids) }
        case .unigram(let unigram):
            unigram.append(word: word.utf8Bytes, to: &ids)
        case .bytePair(let bytePair):
            bytePair.append(word: word, to: &ids)
        }
    }

    /// `text` cut around the added tokens in `tokens`: the leftmost match, longest among those
    /// starting there, then on after it, as `tokenizers`' leftmost-longest automaton; a
    /// single-word token touching a word character is passed over; strips take white space.
    private static func split(_ text: [Unicode.Scalar], startsText: Bool, at tokens: AddedTokenSet) -> [Segment] {
        guard !tokens.contents.isEmpty, !text.isEmpty else {
            return text.isEmpty ? [] : [.text(text, startsText: startsText)]
        }
        var segments: [Segment] = []
        var kept = 0  // the end of what segments cover
        var index = 0
        while index < text.count {
            guard tokens.mayBegin(with: text[index]) else {
                index += 1
                continue
            }
            var best = -1
            for (candidate, content) in tokens.contents.enumerated()
            where content.count > (best < 0 ? 0 : tokens.contents[best].count) && content.first == text[index] {
                if index + content.count <= text.count, text[index..<(index + content.count)].elementsEqual(content) {
                    best = candidate
                }
            }
            guard best >= 0 else {
                index += 1
                continue
            }
            var start = index
            var stop = index + tokens.contents[best].count
            index = stop
            let token = tokens.tokens[best]
            if token.singleWord {
                let wordBefore = start > 0 && isWordCharacter(text[start - 1])
                let wordAfter = stop < text.count && isWordCharacter(text[stop])
                if wordBefore || wordAfter { continue }
            }
            if token.leftStrip {
                while start > kept, text[start - 1].properties.isWhitespace { start -= 1 }
            }
            if token.rightStrip {
                while stop < text.count, text[stop].properties.isWhitespace { stop += 1 }
                index = stop
            }
            start = max(start, kept)
            if kept < start { segments.append(.text(Array(text[kept..<start]), startsText: startsText && kept == 0)) }
            segments.append(.token(token.id))
            kept = stop
        }
        if kept < text.count { segments.append(.text(Array(text[kept...]), startsText: startsText && kept == 0)) }
        return segments
    }

    /// Rust's `char::is_alphanumeric` or `_`, what a single-word token must not touch.
    private static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || PreTokenizer.isNumber(scalar)
    }

    public func encode(_ text: String, pair: String? = nil, truncate: Bool = true) throws -> TokenEncoding {
        var first = tokenize(text)
        var second = pair.map(tokenize)
        let added = postProcessor.addedCount(pair: second != nil)
        let total = first.count + (second?.count ?? 0) + added
        var truncated = 0
        if total > maximumLength {
            guard truncate else { throw TokenizerError.tooLong(tokens: total, maximum: maximumLength) }
            let budget = max(0, maximumLength - added)
            if var kept = second {
                let (firstLength, secondLength) = Self.longestFirst(first.count, kept.count, budget: budget)
                first.removeLast(first.count - firstLength)
                kept.removeLast(kept.count - secondLength)
                second = kept
            } else {
                first.removeLast(max(0, first.count - budget))
            }
            truncated = total - (first.count + (second?.count ?? 0) + added)
        }
        let (ids, types) = postProcessor.process(first, second)
        return TokenEncoding(ids: ids, tokenTypeIDs: types, truncatedCount: truncated)
    }

    /// The lengths `tokenizers`' `longest_first` truncation keeps of a pair: the shorter
    /// whole when the longer can take the rest, otherwise half each (the extra one to the
    /// second).
    static func longestFirst(_ first: Int, _ second: Int, budget: Int) -> (Int, Int) {
        var (shorter, longer) = (min(first, second), max(first, second))
        longer = shorter > budget ? shorter : max(shorter, budget - shorter)
        if shorter + longer > budget {
            shorter = budget / 2
            longer = shorter + budget % 2
        }
        return first > second ? (longer, shorter) : (shorter, longer)
    }

    public func tokens(_ ids: [Int32]) -> [String] {
        ids.map { addedTokenTexts[$0] ?? model.vocabulary.token(for: $0) ?? "<\($0)>" }
    }

    /// The id of `token`: an added token's, or the model's.
    public func id(of token: String) -> Int32? {
        Self.id(of: token, addedTokens: addedTokens, model: model)
    }

    static func id(of token: String, addedTokens: [AddedToken], model: Model) -> Int32? {
        addedTokens.first { $0.content == token }?.id ?? model.vocabulary.id(of: token)
    }
}

/// Added tokens to find in text, with the scalars they may begin with for a quick rejection.
private struct AddedTokenSet: Sendable {
    let contents: [[Unicode.Scalar]]
    let tokens: [PipelineTokenizer.AddedToken]
    private let firstASCII: (UInt64, UInt64)
    private let firstOther: Set<Unicode.Scalar>

    init(_ entries: [([Unicode.Scalar], PipelineTokenizer.AddedToken)]) {
        let kept = entries.filter { !$0.0.isEmpty }
        contents = kept.map(\.0)
        tokens = kept.map(\.1)
        var ascii: (UInt64, UInt64) = (0, 0)
        var other: Set<Unicode.Scalar> = []
        for content in contents {
            guard let first = content.first else { continue }
            switch first.value {
            case 0..<64: ascii.0 |= 1 << UInt64(first.value)
            case 64..<128: ascii.1 |= 1 << UInt64(first.value - 64)
            default: other.insert(first)
            }
        }
        firstASCII = ascii
        firstOther = other
    }

    @inline(__always)
    func mayBegin(with scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<64: firstASCII.0 & (1 << UInt64(scalar.value)) != 0
        case 64..<128: firstASCII.1 & (1 << UInt64(scalar.value - 64)) != 0
        default: firstOther.contains(scalar)
        }
    }
}
