/// Multi-head scaled dot-product self-attention.
///
/// Follows `BertSelfAttention` in transformers' `modeling_bert.py`: per head,
/// softmax(Q Kᵀ / sqrt(headSize) + mask) V, with the padding mask's value `finfo(float32).min`.
/// The query, key and value projections are fused into one `[3 hidden, hidden]` matmul.
public struct BertSelfAttention: Sendable {
    /// Query, key and value projections side by side: output columns `[0, H)`, `[H, 2H)`, `[2H, 3H)`.
    let queryKeyValue: Linear
    let headCount: Int
    let headSize: Int
    /// What packs the keys and values, multiplies and takes the softmax.
    let kernels: KernelSet

    /// The mask value for a padding position: the most negative float, as transformers'
    /// extended attention mask uses (`torch.finfo(float32).min`).
    public static let maskedValue = -Float.greatestFiniteMagnitude

    /// Loads `weight` and `bias` of the three projections' views (a BERT layer's
    /// `attention.self.query`, `.key`, `.value`), packed for `kernels`.
    init(
        query: ComponentTensors, key: ComponentTensors, value: ComponentTensors, configuration: BertConfiguration,
        kernels: KernelSet, weights: WeightLayout = .packed
    ) throws {
        let hidden = configuration.hiddenSize
        queryKeyValue = try Linear(
            concatenating: [query, key, value], inFeatures: hidden,
            outFeatures: hidden, kernels: kernels, weights: weights)
        headCount = configuration.attentionHeadCount
        headSize = configuration.headSize
        self.kernels = kernels
    }

    /// Computes the attention context `[batchSize * sequenceLength, hidden]` of `hidden`.
    ///
    /// - Parameters:
    ///   - hidden: `[rows, hidden]`, rows = batchSize * sequenceLength.
    ///   - mask: `[batchSize, sequenceLength]` additive mask: 0 or ``maskedValue``.
    ///   - positionBias: `[heads, 2 sequenceLength - 1]` by distance
    ///     (``RelativePositionBias/distanceValues(length:)``), added to the scaled scores before
    ///     the mask (MPNet's `position_bias`), or empty.
    ///   - queryKeyValueScratch: `[rows, 3 hidden]`.
    ///   - context: `[rows, hidden]`.
    func forward(
        _ hidden: UnsafePointer<Float>,
        batchSize: Int,
        sequenceLength: Int,
        mask: UnsafePointer<Float>,
        positionBias: [Float] = [],
        queryKeyValueScratch qkv: UnsafeMutablePointer<Float>,
        into context: UnsafeMutablePointer<Float>,
        threads: ComputeThreads
    ) {
        let rows = batchSize * sequenceLength
        queryKeyValue.forward(hidden, rows: rows, into: qkv, threads: threads)
        let width = headCount * headSize
        let stride = 3 * width
        let length = sequenceLength
        let headSize = headSize
        let scale = 1 / Float(headSize).squareRoot()
        let shared = UnsafeSendable((UnsafePointer(qkv), context, mask))
        let kernels = kernels
        let work = batchSize * headCount * 2 * length * length * headSize
        threads.forEachRange(of: batchSize * headCount, work: work) { pairs in
            let (qkv, context, mask) = shared.value
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: length * length)
            let keyCount = PackedPanels.floatCount(depth: headSize, columns: length, kernels: kernels)
            let valueCount = PackedPanels.floatCount(depth: length, columns: headSize, kernels: kernels)
            let keys = UnsafeMutablePointer<Float>.allocate(capacity: keyCount)
            let values = UnsafeMutablePointer<Float>.allocate(capacity: valueCount)
            defer {
                scores.deallocate()
                keys.deallocate()
                values.deallocate()
            }
            for pair in pairs {
                let (item, head) = pair.quotientAndRemainder(dividingBy: headCount)
                let rowBase = qkv + item * length * stride + head * headSize
                // scores [L, L] = Q [L, d] · Kᵀ, with K (token, dim) read as B (k: dim, n: token).
                let packedKeys = PackedPanels(
                    packing: rowBase + width,
                    depth: headSize,
                    columns: length,
                    columnStride: stride,
                    depthStride: 1,
                    for: kernels,
                    into: keys
                )
                Matmul.multiply(
                    rowBase,
                    aStride: stride,
                    rows: length,
                    by: packedKeys,
                    bias: nil,
                    into: scores,
                    cStride: length,
                    threads: .single
                )
                // MPNetSelfAttention: scores / sqrt(d) + position_bias, then the mask; query i's
                // biases start at distance length - 1 - i of the head's row.
                positionBias.withUnsafeBufferPointer { bias in
                    // An empty array's buffer may still have an address: none means no bias.
                    let headBias =
                        bias.isEmpty ? nil : bias.baseAddress.map { $0 + head * (2 * length - 1) + length - 1 }
                    kernels.softmax(
                        scores, rows: length, width: length, stride: length, scale: scale, mask: mask + item * length,
                        bias: headBias, biasStride: -1)
                }
                // context [L, d] = P [L, L] · V [L, d].
                let packedValues = PackedPanels(
                    packing: rowBase + 2 * width,
                    depth: length,
                    columns: headSize,
                    columnStride: 1,
                    depthStride: stride,
                    for: kernels,
                    into: values
                )
                Matmul.multiply(
                    scores,
                    aStride: length,
                    rows: length,
                    by: packedValues,
                    bias: nil,
                    into: context + item * length * width + head * headSize,
                    cStride: width,
                    threads: .single
                )
            }
        }
    }
}
