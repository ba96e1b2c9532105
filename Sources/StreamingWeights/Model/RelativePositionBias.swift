import Foundation

/// MPNet's relative position bias: one learned value per head and distance bucket, added to
/// every layer's attention scores.
///
/// Follows `MPNetEncoder.compute_position_bias` and `relative_position_bucket` in transformers'
/// `modeling_mpnet.py`: the bias of query position i and key position j (0..<L, padding
/// included) is `relative_attention_bias[bucket(j - i)]`, with 32 buckets (the reference fixes
/// the count whatever the configuration says): half for each direction, exact distances below
/// 8, then logarithmic up to 128 and clamped beyond. The bucket arithmetic is float32, as the
/// reference's tensors are.
public struct RelativePositionBias: Sendable {
    /// `[buckets, heads]`.
    let table: [Float]
    let headCount: Int

    /// The table's name in the `shared` component.
    static let tensorName = "relative_attention_bias.weight"

    /// The buckets the reference's bucket function uses.
    static let bucketCount = 32
    static let maximumDistance = 128

    /// Loads the `shared` component's `relative_attention_bias.weight`
    /// `[relativeAttentionBuckets, attentionHeadCount]`.
    ///
    /// - Throws: ``ModelError`` for a missing or misshapen tensor, or a table of fewer than
    ///   32 buckets (the reference would index past it).
    public init(_ tensors: ComponentTensors, configuration: BertConfiguration) throws {
        let buckets = configuration.relativeAttentionBuckets ?? Self.bucketCount
        guard buckets >= Self.bucketCount else {
            throw ModelError.unsupportedOption(
                key: "relative_attention_num_buckets", value: "\(buckets)", supported: ["32 or more"])
        }
        table = try tensors.floats(Self.tensorName, shape: [buckets, configuration.attentionHeadCount])
        headCount = configuration.attentionHeadCount
    }

    /// The bucket of key position minus query position `relative`.
    static func bucket(_ relative: Int) -> Int {
        let half = bucketCount / 2
        let exact = half / 2
        var bucket = relative > 0 ? half : 0
        let distance = abs(relative)
        if distance < exact { return bucket + distance }
        let scaled =
            Foundation.log(Float(distance) / Float(exact))
            / Float(Foundation.log(Double(maximumDistance) / Double(exact)))
            * Float(half - exact)
        bucket += min(exact + Int(scaled), half - 1)
        return bucket
    }

    /// The bias for sequences of `length` positions, by head and distance.
    ///
    /// `[heads, 2 length - 1]`: entry d of a head's row is for key position minus query position
    /// d - (length - 1). Query i's
    /// biases over the keys are then the `length` values from d = length - 1 - i on: each query
    /// row starts one before the previous one's (a stride of -1, as the softmax takes it).
    func distanceValues(length: Int) -> [Float] {
        let span = 2 * length - 1
        var values = [Float](repeating: 0, count: headCount * span)
        for distance in 0..<span {
            let row = Self.bucket(distance - (length - 1)) * headCount
            for head in 0..<headCount { values[head * span + distance] = table[row + head] }
        }
        return values
    }
}
