/// SentencePiece's Unigram model as Hugging Face `tokenizers` runs it: each word is cut into
/// the pieces whose scores (log probabilities) sum highest, found by Viterbi over the word's
/// UTF-8 bytes.
///
/// A scalar no piece covers becomes the unknown piece, scored 10 below the lowest score, and
/// neighbouring unknowns fuse into one; with byte fallback an unknown stretch becomes its
/// bytes' `<0xNN>` pieces instead, when the vocabulary has them all.
public struct UnigramModel: Sendable {
    /// The pieces by id.
    public let vocabulary: Vocabulary
    /// Each piece's score, by id.
    public let scores: [Double]
    public let unknownID: Int32
    public let byteFallback: Bool
    private let unknownScore: Double

    /// - Precondition: `scores` has one score per piece and `unknownID` is a piece's id.
    public init(vocabulary: Vocabulary, scores: [Double], unknownID: Int32, byteFallback: Bool) {
        precondition(scores.count == vocabulary.count && unknownID >= 0 && Int(unknownID) < scores.count)
        self.vocabulary = vocabulary
        self.scores = scores
        self.unknownID = unknownID
        self.byteFallback = byteFallback
        unknownScore = (scores.min() ?? 0) - 10
    }

    /// Appends the ids of `word` to `ids`.
    public func append(word: [UInt8], to ids: inout [Int32]) {
        guard !word.isEmpty else { return }
        word.withUnsafeBufferPointer { bytes in
            // For each byte offset: the best path's score up to it, where its last piece
            // starts (-1: not reached) and that piece's id.
            var best = [(score: Double, start: Int32, id: Int32)](repeating: (0, -1, -1), count: bytes.count + 1)
            var position = 0
            while position < bytes.count {
                let here = best[position].score
                let scalarLength = Self.scalarLength(bytes[position])
                var coversScalar = false
                vocabulary.trie.forEachPrefix(of: bytes, from: position) { id, length in
                    let end = position + length
                    let candidate = scores[Int(id)] + here
                    if best[end].start < 0 || candidate > best[end].score {
                        best[end] = (candidate, Int32(position), id)
                    }
                    if length == scalarLength { coversScalar = true }
                }
                if !coversScalar {
                    let end = min(position + scalarLength, bytes.count)
                    let candidate = unknownScore + here
                    if best[end].start < 0 || candidate > best[end].score {
                        best[end] = (candidate, Int32(position), unknownID)
                    }
                }
                position += scalarLength
            }
            // Back from the end; unknown pieces next to each other become one.
            var pieces: [(range: Range<Int>, id: Int32)] = []
            var end = bytes.count
            while end > 0 {
                let begin = Int(best[end].start)
                guard begin >= 0 else { break }
                if best[end].id == unknownID, let last = pieces.last, last.id == unknownID,
                    last.range.lowerBound == end
                {
                    pieces[pieces.count - 1].range = begin..<last.range.upperBound
                } else {
                    pieces.append((begin..<end, best[end].id))
                }
                end = begin
            }
            for piece in pieces.reversed() {
                append(piece: piece.range, id: piece.id, of: bytes, to: &ids)
            }
        }
    }

    /// A piece's id, looked up again by its text as `tokenizers` does (a fused unknown
    /// stretch, or an unknown piece spelled in the text, is not in the vocabulary).
    private func append(piece: Range<Int>, id: Int32, of bytes: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        if id != unknownID {
            ids.append(id)
            return
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[piece]), as: UTF8.self)
        if let known = vocabulary.id(of: text) {
            ids.append(known)
            return
        }
        if byteFallback {
            let byteIDs = bytes[piece].map { vocabulary.id(of: Self.byteToken($0)) }
            if byteIDs.allSatisfy({ $0 != nil }) {
                ids += byteIDs.compactMap { $0 }
                return
            }
        }
        ids.append(unknownID)
    }

    /// The token byte fallback spells `byte` with, `<0x41>`.
    static func byteToken(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "<0x\(digits[Int(byte >> 4)])\(digits[Int(byte & 15)])>"
    }

    /// The length of the UTF-8 sequence `lead` begins.
    @inline(__always)
    static func scalarLength(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2
    }
}
