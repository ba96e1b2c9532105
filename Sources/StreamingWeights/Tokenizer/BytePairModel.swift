/// The byte-pair-encoding model as Hugging Face `tokenizers` runs it: a word starts as one
/// token per scalar, then the adjacent pair with the best (lowest) merge rank is merged,
/// leftmost first among equals, until no listed merge applies.
///
/// A scalar not in the vocabulary becomes its bytes' `<0xNN>` tokens (byte fallback), or the
/// unknown token (neighbours fused when asked), or is dropped when there is neither, as in the
/// reference. Byte-level models (GPT-2, RoBERTa) see no unknown scalars: ``PreTokenizer``
/// spelled every byte as a vocabulary scalar.
public struct BytePairModel: Sendable {
    public let vocabulary: Vocabulary
    /// Rank and result of each merge, keyed by the pair's ids (`left << 32 | right`).
    private let merges: [UInt64: (rank: Int32, result: Int32)]
    public let unknownID: Int32?
    public let continuingSubwordPrefix: String?
    public let endOfWordSuffix: String?
    public let fusesUnknown: Bool
    public let byteFallback: Bool
    /// Whether a word that is itself a token skips the merges.
    public let ignoresMerges: Bool

    /// What is wrong with a merge list.
    public enum MergeError: Error, Hashable {
        /// The merge at `index` (from 0) names a token not in the vocabulary, or its result is not.
        case unknownToken(String, index: Int)
    }

    /// - Throws: ``MergeError/unknownToken(_:index:)`` for a merge of or into a token the
    ///   vocabulary lacks.
    public init(
        vocabulary: Vocabulary, merges: [(String, String)], unknownID: Int32?, continuingSubwordPrefix: String?,
        endOfWordSuffix: String?, fusesUnknown: Bool, byteFallback: Bool, ignoresMerges: Bool
    ) throws(MergeError) {
        var table: [UInt64: (rank: Int32, result: Int32)] = [:]
        table.reserveCapacity(merges.count)
        let prefixLength = continuingSubwordPrefix?.utf8.count ?? 0
        for (rank, (left, right)) in merges.enumerated() {
            guard let leftID = vocabulary.id(of: left) else { throw .unknownToken(left, index: rank) }
            guard let rightID = vocabulary.id(of: right) else { throw .unknownToken(right, index: rank) }
            // The merged token drops as many bytes from the right part as the continuation prefix
            // has, as the reference does.
            let merged = left + String(decoding: right.utf8.dropFirst(prefixLength), as: UTF8.self)
            guard let resultID = vocabulary.id(of: merged) else { throw .unknownToken(merged, index: rank) }
            let key = UInt64(UInt32(leftID)) << 32 | UInt64(UInt32(rightID))
            if table[key] == nil { table[key] = (Int32(rank), resultID) }
        }
        self.vocabulary = vocabulary
        self.merges = table
        self.unknownID = unknownID
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.endOfWordSuffix = endOfWordSuffix
        self.fusesUnknown = fusesUnknown
        self.byteFallback = byteFallback
        self.ignoresMerges = ignoresMerges
    }

    /// Appends the ids of `word` to `ids`.
    public func append(word: [Unicode.Scalar], to ids: inout [Int32]) {
        guard !word.isEmpty else { return }
        if ignoresMerges, let id = vocabulary.id(of: Self.string(word[...])) {
            ids.append(id)
            return
        }
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        // An unknown stretch waits here until a known token ends it, as in the reference (a
        // byte-fallback success does not end it).
        var pendingUnknown = false
        for (index, scalar) in word.enumerated() {
            var text = String(scalar)
            if index > 0, let prefix = continuingSubwordPrefix { text = prefix + text }
            if index == word.count - 1, let suffix = endOfWordSuffix { text += suffix }
            if let id = vocabulary.id(of: text) {
                if pendingUnknown, let unknownID { symbols.append(unknownID) }
                pendingUnknown = false
                symbols.append(id)
                continue
            }
            if byteFallback {
                let byteIDs = text.utf8.map { vocabulary.id(of: UnigramModel.byteToken($0)) }
                if byteIDs.allSatisfy({ $0 != nil }) {
                    symbols += byteIDs.compactMap { $0 }
                    continue
                }
            }
            guard let unknownID else { continue }
            if pendingUnknown, !fusesUnknown { symbols.append(unknownID) }
            pendingUnknown = true
        }
        if pendingUnknown, let unknownID { symbols.append(unknownID) }
        // Merge the best-ranked pair, leftmost among equals, until none is listed.
        while symbols.count > 1 {
            var best: (rank: Int32, result: Int32, index: Int)?
            for index in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[index])) << 32 | UInt64(UInt32(symbols[index + 1]))
                if let merge = merges[key], best == nil || merge.rank < best?.rank ?? .max {
                    best = (merge.rank, merge.result, index)
                }
            }
            guard let best else { break }
            symbols[best.index] = best.result
            symbols.remove(at: best.index + 1)
        }
        ids += symbols
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
