/// Token ids for a batch of texts, padded to one length, as a BERT forward pass takes them.
public struct EncodedBatch: Sendable, Equatable {
    /// The number of texts.
    public let batchSize: Int
    /// The padded length of every row.
    public let sequenceLength: Int
    /// `[batchSize, sequenceLength]` vocabulary ids; padding positions hold the pad id.
    public let inputIDs: [Int32]
    /// `[batchSize, sequenceLength]` segment ids: 0 for the first text of a pair, 1 for the second.
    public let tokenTypeIDs: [Int32]
    /// `[batchSize, sequenceLength]`: 1 for a real token, 0 for padding.
    public let attentionMask: [Int32]

    /// Creates a batch from flat row-major arrays.
    ///
    /// - Precondition: each array has `batchSize * sequenceLength` elements.
    public init(batchSize: Int, sequenceLength: Int, inputIDs: [Int32], tokenTypeIDs: [Int32], attentionMask: [Int32]) {
        let count = batchSize * sequenceLength
        precondition(
            inputIDs.count == count && tokenTypeIDs.count == count && attentionMask.count == count,
            "batch arrays disagree with \(batchSize) x \(sequenceLength)"
        )
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.inputIDs = inputIDs
        self.tokenTypeIDs = tokenTypeIDs
        self.attentionMask = attentionMask
    }

    /// The number of real (unpadded) tokens in row `index`.
    public func tokenCount(ofRow index: Int) -> Int {
        attentionMask[(index * sequenceLength)..<((index + 1) * sequenceLength)].reduce(0) { $0 + Int($1) }
    }
}
