import Foundation
import StreamingWeights
import Testing

@Suite("SIMD kernels against scalar references")
struct KernelTests {
    @Test("exp matches the definition to 2e-7 relative over its range, and is exactly 0 below it")
    func exp() {
        let inputs =
            randomFloats(4096, seed: 1, range: 87) + [0, 1, -1, 88.3, -87.3, 1e-8, -103, -.greatestFiniteMagnitude]
        for start in stride(from: 0, to: inputs.count, by: 16) {
            var vector = SIMD16<Float>(repeating: 0)
            for j in 0..<16 where start + j < inputs.count { vector[j] = inputs[start + j] }
            let result = VectorMath.exp(vector)
            for j in 0..<16 where start + j < inputs.count {
                let x = Double(inputs[start + j])
                let expected = Foundation.exp(x)
                if x < -87.4 {
                    #expect(result[j] == 0, "exp(\(x))")
                } else {
                    #expect(
                        abs(Double(result[j]) - expected) <= expected * 2e-7,
                        "exp(\(x)) = \(result[j]), not \(expected)")
                }
            }
        }
    }

    @Test("erf and GELU match the definitions to 1e-6")
    func erfAndGelu() {
        let inputs = randomFloats(4096, seed: 2, range: 6) + [0, -0.5, 0.5, 3.99, 4.01, -10, 10]
        for start in stride(from: 0, to: inputs.count, by: 16) {
            var vector = SIMD16<Float>(repeating: 0)
            for j in 0..<16 where start + j < inputs.count { vector[j] = inputs[start + j] }
            let erf = VectorMath.erf(vector)
            let gelu = VectorMath.gelu(vector)
            for j in 0..<16 where start + j < inputs.count {
                let x = inputs[start + j]
                #expect(abs(Double(erf[j]) - Foundation.erf(Double(x))) <= 1e-6, "erf(\(x))")
                #expect(abs(gelu[j] - KernelReference.gelu(x)) <= 1e-6 * max(1, abs(x)), "gelu(\(x))")
            }
        }
    }

    @Test(
        "Matmul equals the scalar Linear for every edge of the tiling",
        arguments: [
            (1, 1, 1), (8, 32, 32), (7, 33, 31), (9, 300, 65), (128, 384, 384), (17, 513, 96), (3, 16, 1536),
        ]
    )
    func matmul(rows: Int, depth: Int, columns: Int) {
        let a = randomFloats(rows * depth, seed: 3)
        let weight = randomFloats(columns * depth, seed: 4)
        let bias = randomFloats(columns, seed: 5)
        let expected = KernelReference.linear(a, rows: rows, depth: depth, weight: weight, columns: columns, bias: bias)
        let packed = weight.withUnsafeBufferPointer { w in
            PackedWeights(linearWeight: w.baseAddress!, outFeatures: columns, inFeatures: depth)
        }
        for threads in [ComputeThreads.single, ComputeThreads(count: 2, minimumWorkPerThread: 1)] {
            for epilogue in [Matmul.Epilogue.none, .gelu] {
                var c = [Float](repeating: .nan, count: rows * columns)
                a.withUnsafeBufferPointer { a in
                    bias.withUnsafeBufferPointer { bias in
                        c.withUnsafeMutableBufferPointer { c in
                            Matmul.multiply(
                                a.baseAddress!, aStride: depth, rows: rows, by: packed.panels, bias: bias.baseAddress,
                                epilogue: epilogue, into: c.baseAddress!, cStride: columns, threads: threads)
                        }
                    }
                }
                let reference = epilogue == .none ? expected : expected.map(KernelReference.gelu)
                let tolerance = 1e-6 * Float(depth).squareRoot() * 4
                #expect(
                    maximumDifference(c, reference) <= tolerance,
                    "\(rows)x\(depth)x\(columns) \(epilogue) threads \(threads.count)")
            }
        }
    }

    @Test("Matmul writes only its rows and columns of a strided output")
    func matmulStrides() {
        let (rows, depth, columns, aStride, cStride) = (5, 40, 20, 50, 27)
        let a = randomFloats(rows * aStride, seed: 6)
        let weight = randomFloats(columns * depth, seed: 7)
        let packed = weight.withUnsafeBufferPointer {
            PackedWeights(linearWeight: $0.baseAddress!, outFeatures: columns, inFeatures: depth)
        }
        var c = [Float](repeating: 42, count: rows * cStride)
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                Matmul.multiply(
                    a.baseAddress!, aStride: aStride, rows: rows, by: packed.panels, bias: nil, into: c.baseAddress!,
                    cStride: cStride, threads: .single)
            }
        }
        let compactA = (0..<rows).flatMap { r in a[(r * aStride)..<(r * aStride + depth)] }
        let expected = KernelReference.linear(
            compactA, rows: rows, depth: depth, weight: weight, columns: columns, bias: nil)
        for r in 0..<rows {
            #expect(
                maximumDifference(
                    Array(c[(r * cStride)..<(r * cStride + columns)]),
                    Array(expected[(r * columns)..<((r + 1) * columns)])) < 1e-5)
            #expect(c[(r * cStride + columns)..<((r + 1) * cStride)].allSatisfy { $0 == 42 })
        }
    }

    @Test("Layer norm with a residual equals the definition", arguments: [128, 384, 37])
    func layerNorm(width: Int) {
        let rows = 6
        let x = randomFloats(rows * width, seed: 8, range: 3)
        let residual = randomFloats(rows * width, seed: 9, range: 3)
        let weight = randomFloats(width, seed: 10)
        let bias = randomFloats(width, seed: 11)
        let expected = KernelReference.layerNorm(
            zip(x, residual).map(+), width: width, weight: weight, bias: bias, epsilon: 1e-12)
        var out = [Float](repeating: 0, count: rows * width)
        out.withUnsafeMutableBufferPointer { out in
            LayerNorm.apply(
                x, residual: residual, rows: rows, width: width, weight: weight, bias: bias, epsilon: 1e-12,
                into: out.baseAddress!)
        }
        #expect(maximumDifference(out, expected) < 2e-5)
    }

    @Test("Softmax with scale and mask equals the definition; masked columns get zero", arguments: [8, 16, 37, 128])
    func softmax(width: Int) {
        let rows = 4
        var scores = randomFloats(rows * width, seed: 12, range: 20)
        let mask = (0..<width).map { $0 >= width - 3 ? Softmax.maskedValue : 0 }
        let expected = KernelReference.softmax(scores, width: width, scale: 0.125, mask: mask)
        scores.withUnsafeMutableBufferPointer { scores in
            mask.withUnsafeBufferPointer { mask in
                Softmax.apply(
                    scores.baseAddress!, rows: rows, width: width, stride: width, scale: 0.125, mask: mask.baseAddress)
            }
        }
        #expect(maximumDifference(scores, expected) < 1e-6)
        for r in 0..<rows {
            #expect(scores[(r * width + width - 3)..<((r + 1) * width)].allSatisfy { $0 == 0 })
            #expect(abs(scores[(r * width)..<((r + 1) * width)].reduce(0, +) - 1) < 1e-5)
        }
    }
}
