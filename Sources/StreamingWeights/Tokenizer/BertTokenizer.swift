import Foundation

/// The BERT tokenizer: text (or a pair of texts) in, ids with `[CLS]` and `[SEP]` out.
///
/// Behaves as Hugging Face's `BertTokenizer` / `tokenizers`' BERT pipeline: special tokens
/// written in the text are kept whole, the rest goes through ``BasicTokenizer`` and
/// ``WordPieceTokenizer``. Configured from a model directory's `vocab.txt`, `tokenizer_config.json`
/// and, when present, `tokenizer.json` (which wins, as it does for the fast tokenizer).
public struct BertTokenizer: TextTokenizer {
    public let vocabulary: Vocabulary
    public let basic: BasicTokenizer
    public let wordPiece: WordPieceTokenizer
    public let classifierID: Int32
    public let separatorID: Int32
    public let paddingID: Int32
    /// The longest encoding, special tokens included.
    public var maximumLength: Int
    /// Special tokens matched whole in the input text, longest first.
    private let specialTokens: [(text: String, id: Int32)]

    /// The special tokens BERT needs, by role.
    public struct SpecialTokens: Sendable {
        public var unknown = "[UNK]"
        public var classifier = "[CLS]"
        public var separator = "[SEP]"
        public var padding = "[PAD]"
        public var mask = "[MASK]"
        public init() {}
    }

    /// Creates a tokenizer over `vocabulary`.
    ///
    /// - Throws: ``TokenizerError/missingSpecialToken(_:source:)`` when a special token is not in the vocabulary.
    public init(
        vocabulary: Vocabulary,
        basic: BasicTokenizer = BasicTokenizer(),
        specialTokens: SpecialTokens = SpecialTokens(),
        maximumLength: Int = 512,
        maximumWordLength: Int = 100,
        source: String = "the vocabulary"
    ) throws {
        func id(_ token: String) throws -> Int32 {
            guard let id = vocabulary.id(of: token) else {
                throw TokenizerError.missingSpecialToken(token, source: source)
            }
            return id
        }
        self.vocabulary = vocabulary
        self.basic = basic
        wordPiece = WordPieceTokenizer(
            vocabulary: vocabulary,
            unknownID: try id(specialTokens.unknown),
            maximumWordLength: maximumWordLength
        )
        classifierID = try id(specialTokens.classifier)
        separatorID = try id(specialTokens.separator)
        paddingID = try id(specialTokens.padding)
        var specials = [
            specialTokens.unknown, specialTokens.classifier, specialTokens.separator, specialTokens.padding,
        ]
        .map { ($0, vocabulary.id(of: $0) ?? -1) }
        if let mask = vocabulary.id(of: specialTokens.mask) { specials.append((specialTokens.mask, mask)) }
        self.specialTokens = specials.sorted { $0.0.count > $1.0.count }
        self.maximumLength = maximumLength
    }

    /// The ids of `text`'s tokens, without `[CLS]` and `[SEP]`.
    public func tokenize(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        forEachSegment(of: text) { segment in
            switch segment {
            case .special(let id):
                ids.append(id)
            case .text(let piece):
                basic.forEachWord(in: piece) { word, scalars in
                    wordPiece.append(word: word, scalarCount: scalars, to: &ids)
                }
            }
        }
        return ids
    }

    private enum Segment {
        case special(Int32)
        case text(String)
    }

    /// Splits `text` around the special tokens written in it.
    private func forEachSegment(of text: String, _ body: (Segment) -> Void) {
        guard text.contains("[") else {
            body(.text(text))
            return
        }
        var rest = text[...]
        while let open = rest.firstIndex(of: "[") {
            let candidate = rest[open...]
            if let special = specialTokens.first(where: { candidate.hasPrefix($0.text) }) {
                if open > rest.startIndex { body(.text(String(rest[..<open]))) }
                body(.special(special.id))
                rest = candidate.dropFirst(special.text.count)
            } else {
                let next = rest.index(after: open)
                if let following = rest[next...].firstIndex(of: "[") {
                    body(.text(String(rest[..<following])))
                    rest = rest[following...]
                } else {
                    break
                }
            }
        }
        if !rest.isEmpty { body(.text(String(rest))) }
    }

    /// One encoded text (or pair), before padding.
    public typealias Encoding = TokenEncoding

    /// Encodes `text` (and `pair`) with the special tokens, truncated to ``maximumLength``.
    ///
    /// Truncation removes tokens from the end of the longer text first, as transformers'
    /// `longest_first` does.
    /// - Throws: ``TokenizerError/tooLong(tokens:maximum:)`` when `truncate` is false and the
    ///   encoding is longer than the maximum.
    public func encode(_ text: String, pair: String? = nil, truncate: Bool = true) throws -> TokenEncoding {
        var first = tokenize(text)
        var second = pair.map(tokenize)
        let specials = second == nil ? 2 : 3
        let total = first.count + (second?.count ?? 0) + specials
        var truncated = 0
        if total > maximumLength {
            guard truncate else { throw TokenizerError.tooLong(tokens: total, maximum: maximumLength) }
            truncated = total - maximumLength
            for _ in 0..<truncated {
                if let count = second?.count, count > first.count {
                    second?.removeLast()
                } else {
                    first.removeLast()
                }
            }
        }
        var ids = [classifierID] + first + [separatorID]
        var types = [Int32](repeating: 0, count: ids.count)
        if let second {
            ids += second + [separatorID]
            types += [Int32](repeating: 1, count: second.count + 1)
        }
        return Encoding(ids: ids, tokenTypeIDs: types, truncatedCount: truncated)
    }

    /// The tokens of `ids`, as strings.
    public func tokens(_ ids: [Int32]) -> [String] {
        ids.map { vocabulary.token(for: $0) ?? "<\($0)>" }
    }
}
