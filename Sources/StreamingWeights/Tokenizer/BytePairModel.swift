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
    /// The id of each scalar below 512 as a token of its own (-1: none), when there is no
    /// prefix or suffix to add: every scalar of a byte-level model is one of these.
    private let scalarIDs: [Int32]

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
        let plain = (continuingSubwordPrefix ?? "").isEmpty && (endOfWordSuffix ?? "").isEmpty
        scalarIDs = (0..<512).map { value in
            guard plain, let scalar = Unicode.Scalar(UInt32(value)) else { return -1 }
            return vocabulary.id(of: String(scalar)) ?? -1
        }
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
            if scalar.value < 512, scalarIDs[Int(scalar.value)] >= 0 {
                if pendingUnknown, let unknownID { symbols.append(unknownID) }
                pendingUnknown = false
                symbols.append(scalarIDs[Int(scalar.value)])
                continue
            }
            var text = String(scalar)
            if index > 0, let prefix = continuingSubwordPrefix, !prefix.isEmpty { text = prefix + text }
            if index == word.count - 1, let suffix = endOfWordSuffix, !suffix.isEmpty { text += suffix }
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
        // Merge the best-ranked pair, leftmost among equals, until none is listed; only the
        // pairs next to a merge change rank.
        guard symbols.count > 1 else {
            ids += symbols
            return
        }
        var ranks = (0..<(symbols.count - 1)).map { merge(symbols[$0], symbols[$0 + 1]) }
        while true {
            var best = -1
            var bestRank = Int32.max
            for (index, merge) in ranks.enumerated() where merge.rank < bestRank {
                best = index
                bestRank = merge.rank
            }
            guard best >= 0 else { break }
            symbols[best] = ranks[best].result
            symbols.remove(at: best + 1)
            ranks.remove(at: best)
            if best > 0 { ranks[best - 1] = merge(symbols[best - 1], symbols[best]) }
            if best < ranks.count { ranks[best] = merge(symbols[best], symbols[best + 1]) }
        }
        ids += symbols
    }

    /// The rank and result of merging `left` and `right`, rank `Int32.max` when it is not listed.
    @inline(__always)
    private func merge(_ left: Int32, _ right: Int32) -> (rank: Int32, result: Int32) {
        merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))] ?? (.max, -1)
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
