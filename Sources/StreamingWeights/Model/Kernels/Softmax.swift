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
        for r in 0..<rows {
            let row = scores + r * stride
            let raw = UnsafeMutableRawPointer(row)
            var maximum = -Float.infinity
            for j in 0..<width {
                let value = row[j] * scale + (mask?[j] ?? 0)
                row[j] = value
                maximum = max(maximum, value)
            }
            var sum = Vector(repeating: 0)
            for j in Swift.stride(from: 0, to: vectorWidth, by: 16) {
                let e = VectorMath.exp(raw.loadUnaligned(fromByteOffset: j * 4, as: Vector.self) - maximum)
                raw.storeBytes(of: e, toByteOffset: j * 4, as: Vector.self)
                sum += e
            }
            var total = sum.sum()
            if vectorWidth < width {
                var tail = Vector(repeating: -Float.infinity)
                for j in vectorWidth..<width { tail[j - vectorWidth] = row[j] - maximum }
                let e = VectorMath.exp(tail)
                for j in vectorWidth..<width {
                    row[j] = e[j - vectorWidth]
                    total += e[j - vectorWidth]
                }
            }
            let inverse = 1 / total
            for j in 0..<width { row[j] *= inverse }
        }
    }
}
