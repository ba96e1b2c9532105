/// What a BERT forward pass returns, as transformers' `BaseModelOutputWithPooling`.
public struct BertModelOutput: Sendable {
    public let batchSize: Int
    public let sequenceLength: Int
    public let hiddenSize: Int
    /// `[batchSize, sequenceLength, hiddenSize]`, padding positions included.
    public let lastHiddenState: [Float]
    /// `[batchSize, hiddenSize]`, or `nil` when the model has no pooler.
    public let poolerOutput: [Float]?
    /// `[batchSize, labelCount]` classification logits, or `nil` when the model has no head.
    public var logits: [Float]? = nil

    /// The hidden states of row `item`'s first `tokenCount` tokens, `[tokenCount, hiddenSize]`.
    public func hiddenStates(ofRow item: Int, tokenCount: Int) -> ArraySlice<Float> {
        let start = item * sequenceLength * hiddenSize
        return lastHiddenState[start..<(start + tokenCount * hiddenSize)]
    }
}

/// How a text's token states become one embedding: sentence-transformers' `Pooling` modes, and
/// BERT's pooler.
public enum Pooling: String, Sendable, CaseIterable {
    /// The `[CLS]` token's hidden state.
    case cls
    /// The mean of the real tokens' hidden states (what most sentence-transformers models use).
    case mean
    /// The pooler's output, tanh(dense(`[CLS]`)).
    case pooler
    /// The largest value of each feature over the real tokens.
    case max
    /// The sum of the real tokens' states divided by the square root of their number.
    case meanSqrtLength = "mean-sqrt-len"
    /// The mean weighted by position (1 for the first token, 2 for the second, ...).
    case weightedMean = "weighted-mean"
    /// The last real token's state.
    case lastToken = "last-token"
}

/// The reasons an embedding cannot be pooled.
public enum PoolingError: Error, Hashable, CustomStringConvertible {
    /// `--pooling pooler` on a model without a pooler.
    case noPooler

    public var description: String {
        switch self {
        case .noPooler: "the model has no pooler: use cls or mean pooling"
        }
    }
}

extension BertModelOutput {
    /// The embedding of row `item` of `batch`, optionally scaled to unit length.
    ///
    /// - Throws: ``PoolingError/noPooler`` for `.pooler` on a model without one.
    public func embedding(ofRow item: Int, in batch: EncodedBatch, pooling: Pooling, normalize: Bool) throws -> [Float]
    {
        var vector: [Float]
        switch pooling {
        case .cls:
            vector = Array(hiddenStates(ofRow: item, tokenCount: 1))
        case .pooler:
            guard let poolerOutput else { throw PoolingError.noPooler }
            vector = Array(poolerOutput[(item * hiddenSize)..<((item + 1) * hiddenSize)])
        case .mean, .meanSqrtLength, .weightedMean:
            // As sentence-transformers: masked sums, the weights clamped away from zero.
            vector = [Float](repeating: 0, count: hiddenSize)
            var total: Float = 0
            for position in realPositions(ofRow: item, in: batch) {
                let weight: Float = pooling == .weightedMean ? Float(position + 1) : 1
                let start = (item * sequenceLength + position) * hiddenSize
                for j in 0..<hiddenSize { vector[j] += lastHiddenState[start + j] * weight }
                total += weight
            }
            let divisor = pooling == .meanSqrtLength ? total.squareRoot() : total
            vector = vector.map { $0 / Swift.max(divisor, 1e-9) }
        case .max:
            vector = [Float](repeating: -.infinity, count: hiddenSize)
            for position in realPositions(ofRow: item, in: batch) {
                let start = (item * sequenceLength + position) * hiddenSize
                for j in 0..<hiddenSize { vector[j] = Swift.max(vector[j], lastHiddenState[start + j]) }
            }
        case .lastToken:
            let last = realPositions(ofRow: item, in: batch).last ?? 0
            let start = (item * sequenceLength + last) * hiddenSize
            vector = Array(lastHiddenState[start..<(start + hiddenSize)])
        }
        return normalize ? Self.normalized(vector) : vector
    }

    /// `vector` scaled to unit length, as `torch.nn.functional.normalize` (norm at least 1e-12).
    public static func normalized(_ vector: [Float]) -> [Float] {
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let scale = 1 / max(norm, 1e-12)
        return vector.map { $0 * scale }
    }

    /// The positions of row `item` that hold real tokens (the attention mask's ones).
    private func realPositions(ofRow item: Int, in batch: EncodedBatch) -> [Int] {
        (0..<sequenceLength).filter { batch.attentionMask[item * sequenceLength + $0] != 0 }
    }
}
