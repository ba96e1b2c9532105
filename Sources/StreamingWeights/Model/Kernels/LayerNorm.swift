/// Layer normalisation over the last dimension, as `torch.nn.LayerNorm` computes it: biased
/// variance, `epsilon` inside the square root.
public enum LayerNorm {
    /// out[r] = (x[r] + residual[r] - mean) / sqrt(variance + epsilon) * weight + bias for each of
    /// `rows` rows of `width`.
    ///
    /// - Parameters:
    ///   - x: `[rows, width]`.
    ///   - residual: `[rows, width]` added to x first (BERT's skip connections), or `nil`.
    ///   - weight, bias: `[width]`.
    ///   - output: `[rows, width]`; may be `x` or `residual`.
    public static func apply(
        _ x: UnsafePointer<Float>,
        residual: UnsafePointer<Float>?,
        rows: Int,
        width: Int,
        weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>,
        epsilon: Float,
        into output: UnsafeMutablePointer<Float>
    ) {
        typealias Vector = SIMD16<Float>
        let vectorWidth = width & ~15
        for r in 0..<rows {
            let input = x + r * width
            let out = output + r * width
            // Sum the residual in first, into the output row.
            if let residual {
                let skip = residual + r * width
                for j in 0..<width { out[j] = input[j] + skip[j] }
            } else if out != UnsafeMutablePointer(mutating: input) {
                out.update(from: input, count: width)
            }
            let raw = UnsafeMutableRawPointer(out)
            var sum = Vector(repeating: 0)
            for j in stride(from: 0, to: vectorWidth, by: 16) {
                sum += raw.loadUnaligned(fromByteOffset: j * 4, as: Vector.self)
            }
            var total = sum.sum()
            for j in vectorWidth..<width { total += out[j] }
            let mean = total / Float(width)
            var squares = Vector(repeating: 0)
            for j in stride(from: 0, to: vectorWidth, by: 16) {
                let centered = raw.loadUnaligned(fromByteOffset: j * 4, as: Vector.self) - mean
                squares = squares.addingProduct(centered, centered)
            }
            var squareTotal = squares.sum()
            for j in vectorWidth..<width { squareTotal += (out[j] - mean) * (out[j] - mean) }
            let inverse = 1 / (squareTotal / Float(width) + epsilon).squareRoot()
            for j in stride(from: 0, to: vectorWidth, by: 16) {
                let value = raw.loadUnaligned(fromByteOffset: j * 4, as: Vector.self)
                let scale = UnsafeRawPointer(weight + j).loadUnaligned(as: Vector.self)
                let shift = UnsafeRawPointer(bias + j).loadUnaligned(as: Vector.self)
                raw.storeBytes(
                    of: shift.addingProduct((value - mean) * inverse, scale), toByteOffset: j * 4, as: Vector.self)
            }
            for j in vectorWidth..<width { out[j] = (out[j] - mean) * inverse * weight[j] + bias[j] }
        }
    }
}
