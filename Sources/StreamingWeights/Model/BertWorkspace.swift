/// The activation buffers of one forward pass, allocated once for the batch's shape.
final class BertWorkspace {
    let batchSize: Int
    let sequenceLength: Int
    let rows: Int
    /// `[batchSize, sequenceLength]` additive attention mask.
    let mask: UnsafeMutablePointer<Float>
    let queryKeyValue: UnsafeMutablePointer<Float>
    let context: UnsafeMutablePointer<Float>
    let attention: UnsafeMutablePointer<Float>
    let intermediate: UnsafeMutablePointer<Float>
    /// `[heads, 2 sequenceLength - 1]` by distance (``RelativePositionBias/distanceValues(length:)``),
    /// added to every layer's attention scores (MPNet), or empty.
    let positionBias: [Float]
    private let memory: UnsafeMutableRawPointer

    init(batch: EncodedBatch, configuration: BertConfiguration, positionBias: [Float]? = nil) {
        self.positionBias = positionBias ?? []
        batchSize = batch.batchSize
        sequenceLength = batch.sequenceLength
        rows = batchSize * sequenceLength
        let hidden = configuration.hiddenSize
        // Each buffer rounded up to 16 floats so every one starts 64-byte aligned.
        let sizes = [rows, rows * 3 * hidden, rows * hidden, rows * hidden, rows * configuration.intermediateSize]
            .map { ($0 + 15) & ~15 }
        memory = UnsafeMutableRawPointer.allocate(byteCount: sizes.reduce(0, +) * 4, alignment: 64)
        var next = memory.bindMemory(to: Float.self, capacity: sizes.reduce(0, +))
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        mask = take(sizes[0])
        queryKeyValue = take(sizes[1])
        context = take(sizes[2])
        attention = take(sizes[3])
        intermediate = take(sizes[4])
        for index in 0..<rows {
            mask[index] = batch.attentionMask[index] == 0 ? BertSelfAttention.maskedValue : 0
        }
    }

    deinit {
        memory.deallocate()
    }
}
