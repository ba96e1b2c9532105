/// Splits a word into vocabulary pieces, greedily taking the longest piece first.
///
/// As `tokenizers`' `WordPiece` model: pieces after the first carry the `##` prefix; a word of
/// more than ``maximumWordLength`` scalars, or with any part no piece matches, becomes `[UNK]`.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let unknownID: Int32
    public let maximumWordLength: Int
    /// The trie node for the continuation prefix (`##`), or -1 when no token starts with it.
    private let continuationNode: Int32

    public init(
        vocabulary: Vocabulary, unknownID: Int32, maximumWordLength: Int = 100, continuationPrefix: String = "##"
    ) {
        self.vocabulary = vocabulary
        self.unknownID = unknownID
        self.maximumWordLength = maximumWordLength
        continuationNode = vocabulary.trie.node(for: continuationPrefix.utf8)
    }

    /// Appends the ids of `word` (UTF-8, `scalarCount` scalars long) to `ids`.
    public func append(word: UnsafeBufferPointer<UInt8>, scalarCount: Int, to ids: inout [Int32]) {
        guard scalarCount <= maximumWordLength else {
            ids.append(unknownID)
            return
        }
        let before = ids.count
        var start = 0
        while start < word.count {
            let node: Int32 = start == 0 ? 0 : continuationNode
            guard node >= 0, let match = vocabulary.trie.longestMatch(in: word, from: start, node: node) else {
                ids.removeSubrange(before...)
                ids.append(unknownID)
                return
            }
            ids.append(match.id)
            start += match.length
        }
    }
}
