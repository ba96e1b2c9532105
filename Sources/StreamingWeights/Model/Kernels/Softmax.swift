/// Softmax over rows of attention scores, with scaling and an additive mask.
public enum Softmax {
    /// The mask value for a padding position: the most negative float, as transformers'
    /// extended attention mask uses (`torch.finfo(float32).min`).
    public static let maskedValue = -Float.greatestFiniteMagnitude

    /// Replaces each of `rows` rows of `width` scores s with softmax(s * scale + mask).
    ///
    /// - Parameters:
    ///   - scores: `[rows, width]`, rows `stride` floats apart, updated in place.
    ///   - mask: `[width]` added to every row (0 to keep, ``maskedValue`` to drop), or `nil`.
    public static func apply(
        _ scores: UnsafeMutablePointer<Float>,
        rows: Int,
        width: Int,
        stride: Int,
        scale: Float,
        mask: UnsafePointer<Float>?
    ) {
        typealias Vector = SIMD16<Float>
        let vectorWidth = width & ~15
        let tailCount = width - vectorWidth
        // The tail (fewer than 16 scores) goes through a padded vector whose extra lanes are -inf.
        var tailMask = Vector(repeating: -Float.infinity)
        if let mask {
            for j in 0..<tailCount { tailMask[j] = mask[vectorWidth + j] }
        } else {
            for j in 0..<tailCount { tailMask[j] = 0 }
        }
        for r in 0..<rows {
            let row = UnsafeMutableRawPointer(scores + r * stride)
            var maximum = Vector(repeating: -Float.infinity)
            for j in Swift.stride(from: 0, to: vectorWidth, by: 16) {
                let bias = mask.map { UnsafeRawPointer($0 + j).loadUnaligned(as: Vector.self) } ?? Vector(repeating: 0)
                let value = bias.addingProduct(row.loadUnaligned(fromByteOffset: j * 4, as: Vector.self), scale)
                row.storeBytes(of: value, toByteOffset: j * 4, as: Vector.self)
                maximum = VectorMath.maximum(maximum, value)
            }
            var tail = tailMask
            if tailCount > 0 {
                for j in 0..<tailCount { tail[j] = tail[j] + scores[r * stride + vectorWidth + j] * scale }
                maximum = VectorMath.maximum(maximum, tail)
            }
            let rowMaximum = maximum.max()
            var sum = Vector(repeating: 0)
            for j in Swift.stride(from: 0, to: vectorWidth, by: 16) {
                let e = VectorMath.exp(row.loadUnaligned(fromByteOffset: j * 4, as: Vector.self) - rowMaximum)
                row.storeBytes(of: e, toByteOffset: j * 4, as: Vector.self)
                sum += e
            }
            if tailCount > 0 {
                tail = VectorMath.exp(tail - rowMaximum)
                sum += tail
            }
            let inverse = 1 / sum.sum()
            for j in Swift.stride(from: 0, to: vectorWidth, by: 16) {
                row.storeBytes(
                    of: row.loadUnaligned(fromByteOffset: j * 4, as: Vector.self) * inverse, toByteOffset: j * 4,
                    as: Vector.self)
            }
            for j in 0..<tailCount { scores[r * stride + vectorWidth + j] = tail[j] * inverse }
        }
    }
}
