import Foundation

/// Plain scalar implementations that the SIMD kernels are tested against: the definitions,
/// written as directly as possible, in double precision.
enum KernelReference {
    /// C[m, n] = sum_k A[m, k] * W[n, k] + bias[n]: a PyTorch Linear.
    static func linear(_ a: [Float], rows: Int, depth: Int, weight: [Float], columns: Int, bias: [Float]?) -> [Float] {
        var c = [Float](repeating: 0, count: rows * columns)
        for m in 0..<rows {
            for n in 0..<columns {
                var sum = Double(bias?[n] ?? 0)
                for k in 0..<depth { sum += Double(a[m * depth + k]) * Double(weight[n * depth + k]) }
                c[m * columns + n] = Float(sum)
            }
        }
        return c
    }

    static func gelu(_ x: Float) -> Float {
        Float(0.5 * Double(x) * (1 + Foundation.erf(Double(x) / 2.0.squareRoot())))
    }

    static func layerNorm(_ x: [Float], width: Int, weight: [Float], bias: [Float], epsilon: Float) -> [Float] {
        var out = x
        for r in 0..<(x.count / width) {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for j in 0..<width {
                out[r * width + j] = Float(
                    (row[j] - mean) / (variance + Double(epsilon)).squareRoot() * Double(weight[j]) + Double(bias[j]))
            }
        }
        return out
    }

    static func softmax(_ x: [Float], width: Int, scale: Float, mask: [Float]?, bias: [Float]? = nil) -> [Float] {
        var out = x
        for r in 0..<(x.count / width) {
            let row = (0..<width).map {
                Double(x[r * width + $0]) * Double(scale) + Double(bias?[r * width + $0] ?? 0) + Double(mask?[$0] ?? 0)
            }
            let maximum = row.max() ?? 0
            let exps = row.map { Foundation.exp($0 - maximum) }
            let total = exps.reduce(0, +)
            for j in 0..<width { out[r * width + j] = Float(exps[j] / total) }
        }
        return out
    }
}

/// Deterministic pseudo-random floats in [-range, range).
func randomFloats(_ count: Int, seed: UInt64, range: Float = 1) -> [Float] {
    var state = seed &* 2_862_933_555_777_941_757 &+ 3_037_000_493
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * range
    }
}

func maximumDifference(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
