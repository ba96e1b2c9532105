import Foundation
import StreamingWeights
import Testing

/// Every kernel set this CPU can run (on an AVX-512 machine: avx512, avx2 and portable), each
/// checked against the scalar references of KernelReferences.swift.
@Suite("Kernel sets against scalar references")
struct KernelTests {
    static let sets = KernelSet.supported

    @Test("The CPU runs the portable set and at least what it was built to; forcing a set it lacks is an error")
    func selection() throws {
        #expect(Self.sets.last == KernelSet.portable)
        #expect(try KernelSet.selected(environment: [:]) == Self.sets.first)
        for set in Self.sets {
            #expect(try KernelSet.selected(environment: ["STREAMING_WEIGHTS_KERNELS": set.name]) == set)
        }
        let names = Self.sets.map(\.name)
        #expect(throws: KernelSetError.unknown("sse9", supported: names)) {
            _ = try KernelSet.selected(environment: ["STREAMING_WEIGHTS_KERNELS": "sse9"])
        }
        for name in KernelSet.names where !names.contains(name) {
            #expect(throws: KernelSetError.unsupported(name, supported: names)) {
                _ = try KernelSet.selected(environment: ["STREAMING_WEIGHTS_KERNELS": name])
            }
        }
        #if arch(x86_64)
            #expect(KernelSet.compiled.map(\.name) == ["avx512", "avx2", "portable"])
            let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            #expect(Self.sets.contains { $0.name == "avx512" } == flags.contains(" avx512f "))
            #expect(Self.sets.contains { $0.name == "avx2" } == flags.contains(" avx2 "))
        #endif
    }

    @Test(
        "Matmul equals the scalar Linear for every edge of the tiling, with every set",
        arguments: [
            (1, 1, 1), (8, 32, 32), (7, 33, 31), (9, 300, 65), (128, 384, 384), (17, 513, 96), (3, 16, 1536),
            (13, 1537, 47), (25, 7, 100), (6, 12, 16), (12, 768, 32),
        ]
    )
    func matmul(rows: Int, depth: Int, columns: Int) {
        let a = randomFloats(rows * depth, seed: 3)
        let weight = randomFloats(columns * depth, seed: 4)
        let bias = randomFloats(columns, seed: 5)
        let expected = KernelReference.linear(a, rows: rows, depth: depth, weight: weight, columns: columns, bias: bias)
        for set in Self.sets {
            let packed = weight.withUnsafeBufferPointer { w in
                PackedWeights(linearWeight: w.baseAddress!, outFeatures: columns, inFeatures: depth, for: set)
            }
            for threads in [ComputeThreads.single, ComputeThreads(count: 2, minimumWorkPerThread: 1)] {
                for epilogue in [Matmul.Epilogue.none, .gelu] {
                    var c = [Float](repeating: .nan, count: rows * columns)
                    a.withUnsafeBufferPointer { a in
                        bias.withUnsafeBufferPointer { bias in
                            c.withUnsafeMutableBufferPointer { c in
                                Matmul.multiply(
                                    a.baseAddress!, aStride: depth, rows: rows, by: packed.panels,
                                    bias: bias.baseAddress, epilogue: epilogue, into: c.baseAddress!, cStride: columns,
                                    threads: threads)
                            }
                        }
                    }
                    let reference = epilogue == .none ? expected : expected.map(KernelReference.gelu)
                    // float32 sums of `depth` products of values in [-1, 1]: rounding grows with sqrt(depth).
                    let tolerance = 1e-6 * Float(depth).squareRoot() * 4
                    #expect(
                        maximumDifference(c, reference) <= tolerance,
                        "\(set.name) \(rows)x\(depth)x\(columns) \(epilogue) threads \(threads.count)")
                }
            }
        }
    }

    @Test(
        "Weights multiplied as stored give the same bits as packed ones, fused or not, with every set",
        arguments: [
            (1, 1, 1), (32, 32, 32), (33, 33, 31), (70, 300, 65), (128, 384, 384), (300, 513, 20), (40, 1537, 9),
            (257, 16, 7), (31, 12, 16),
        ]
    )
    func storedWeights(rows: Int, depth: Int, columns: Int) throws {
        let a = randomFloats(rows * depth, seed: 6)
        let weights = [randomFloats(columns * depth, seed: 7), randomFloats(columns * depth, seed: 8)]
        let tensors = weights.map { Tensor(float32: $0, shape: [columns, depth]) }
        let bias = randomFloats(2 * columns, seed: 9)
        for set in Self.sets {
            for fused in [tensors, [tensors[0]]] {
                let stored = try #require(StoredWeights(fused, inFeatures: depth, kernels: set))
                let width = fused.count * columns
                for threads in [ComputeThreads.single, ComputeThreads(count: 2, minimumWorkPerThread: 1)] {
                    for epilogue in [Matmul.Epilogue.none, .gelu] {
                        for withBias in [true, false] {
                            var expected = [Float](repeating: .nan, count: rows * width)
                            var c = [Float](repeating: .nan, count: rows * width)
                            a.withUnsafeBufferPointer { a in
                                bias.withUnsafeBufferPointer { bias in
                                    let bias = withBias ? bias.baseAddress : nil
                                    expected.withUnsafeMutableBufferPointer { c in
                                        Matmul.multiply(
                                            a.baseAddress!, aStride: depth, rows: rows, by: stored.packed.panels,
                                            bias: bias, epilogue: epilogue, into: c.baseAddress!, cStride: width,
                                            threads: threads)
                                    }
                                    c.withUnsafeMutableBufferPointer { c in
                                        Matmul.multiply(
                                            a.baseAddress!, aStride: depth, rows: rows, byStored: stored, bias: bias,
                                            epilogue: epilogue, into: c.baseAddress!, cStride: width, threads: threads)
                                    }
                                }
                            }
                            #expect(
                                c.map(\.bitPattern) == expected.map(\.bitPattern),
                                "\(set.name) \(rows)x\(depth)x\(width) \(epilogue) bias \(withBias) threads \(threads.count)"
                            )
                        }
                    }
                }
            }
        }
    }

    @Test("Matmul writes only its rows and columns of strided, unaligned operands, with every set")
    func matmulStrides() {
        let (rows, depth, columns, aStride, cStride) = (14, 40, 37, 51, 45)
        // One float in: nothing is 16- or 64-byte aligned.
        let a = randomFloats(rows * aStride + 1, seed: 6)
        let weight = randomFloats(columns * depth, seed: 7)
        let compactA = (0..<rows).flatMap { r in a[(1 + r * aStride)..<(1 + r * aStride + depth)] }
        let expected = KernelReference.linear(
            compactA, rows: rows, depth: depth, weight: weight, columns: columns, bias: nil)
        for set in Self.sets {
            let packed = weight.withUnsafeBufferPointer {
                PackedWeights(linearWeight: $0.baseAddress!, outFeatures: columns, inFeatures: depth, for: set)
            }
            var c = [Float](repeating: 42, count: rows * cStride + 1)
            a.withUnsafeBufferPointer { a in
                c.withUnsafeMutableBufferPointer { c in
                    Matmul.multiply(
                        a.baseAddress! + 1, aStride: aStride, rows: rows, by: packed.panels, bias: nil,
                        into: c.baseAddress! + 1, cStride: cStride, threads: .single)
                }
            }
            #expect(c[0] == 42)
            for r in 0..<rows {
                let row = Array(c[(1 + r * cStride)..<(1 + r * cStride + columns)])
                #expect(
                    maximumDifference(row, Array(expected[(r * columns)..<((r + 1) * columns)])) < 1e-5, "\(set.name)")
                #expect(c[(1 + r * cStride + columns)..<(1 + (r + 1) * cStride)].allSatisfy { $0 == 42 }, "\(set.name)")
            }
        }
    }

    @Test("GELU (erf form) matches the definition to 1e-6 over [-10, 10], with every set")
    func gelu() {
        // A 1-deep matmul by 1 is the identity: its GELU epilogue alone is left.
        let inputs = randomFloats(4093, seed: 2, range: 6) + [0, -0.5, 0.5, 3.99, 4.01, -10, 10]
        let one: [Float] = [1]
        for set in Self.sets {
            let packed = one.withUnsafeBufferPointer {
                PackedWeights(linearWeight: $0.baseAddress!, outFeatures: 1, inFeatures: 1, for: set)
            }
            var out = [Float](repeating: 0, count: inputs.count)
            inputs.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { out in
                    Matmul.multiply(
                        x.baseAddress!, aStride: 1, rows: inputs.count, by: packed.panels, bias: nil, epilogue: .gelu,
                        into: out.baseAddress!, cStride: 1, threads: .single)
                }
            }
            for (x, y) in zip(inputs, out) {
                #expect(abs(y - KernelReference.gelu(x)) <= 1e-6 * max(1, abs(x)), "\(set.name) gelu(\(x)) = \(y)")
            }
        }
    }

    @Test("Layer norm with a residual equals the definition, with every set", arguments: [128, 384, 37, 5])
    func layerNorm(width: Int) {
        let rows = 6
        let x = randomFloats(rows * width, seed: 8, range: 3)
        let residual = randomFloats(rows * width, seed: 9, range: 3)
        let weight = randomFloats(width, seed: 10)
        let bias = randomFloats(width, seed: 11)
        let expected = KernelReference.layerNorm(
            zip(x, residual).map(+), width: width, weight: weight, bias: bias, epsilon: 1e-12)
        for set in Self.sets {
            var out = [Float](repeating: 0, count: rows * width)
            out.withUnsafeMutableBufferPointer { out in
                set.layerNorm(
                    x, residual: residual, rows: rows, width: width, weight: weight, bias: bias, epsilon: 1e-12,
                    into: out.baseAddress!)
            }
            #expect(maximumDifference(out, expected) < 2e-5, "\(set.name)")
            // In place, without a residual.
            var inPlace = zip(x, residual).map(+)
            inPlace.withUnsafeMutableBufferPointer { buffer in
                set.layerNorm(
                    buffer.baseAddress!, residual: nil, rows: rows, width: width, weight: weight, bias: bias,
                    epsilon: 1e-12, into: buffer.baseAddress!)
            }
            #expect(maximumDifference(inPlace, expected) < 2e-5, "\(set.name) in place")
        }
    }

    @Test(
        "Softmax with scale, mask and a bias sliding along a vector (MPNet's) equals the definition to exp's precision; masked columns get zero, with every set",
        arguments: [1, 8, 16, 37, 128], [false, true])
    func softmax(width: Int, withBias: Bool) {
        let rows = 4
        // Scores whose scaled values span exp's whole range.
        let scores = randomFloats(rows * width, seed: 12, range: 700)
        let masked = width > 3 ? 3 : 0
        let mask = (0..<width).map { $0 >= width - masked ? BertSelfAttention.maskedValue : 0 }
        // A bias of column minus row: row r's values start rows - 1 - r into one vector.
        let distances = randomFloats(rows + width - 1, seed: 13, range: 30)
        let bias = (0..<(rows * width)).map { distances[rows - 1 - $0 / width + $0 % width] }
        let expected = KernelReference.softmax(
            scores, width: width, scale: 0.125, mask: mask, bias: withBias ? bias : nil)
        for set in Self.sets {
            var result = scores
            result.withUnsafeMutableBufferPointer { result in
                mask.withUnsafeBufferPointer { mask in
                    distances.withUnsafeBufferPointer { distances in
                        set.softmax(
                            result.baseAddress!, rows: rows, width: width, stride: width, scale: 0.125,
                            mask: mask.baseAddress, bias: withBias ? distances.baseAddress! + rows - 1 : nil,
                            biasStride: -1)
                    }
                }
            }
            for (index, (got, want)) in zip(result, expected).enumerated() {
                // exp's own error (2e-7 relative), plus the float32 rounding of s - max, which
                // grows with how far below the maximum a score lies (-log of the result); with
                // a bias, also the rounding of s · scale + bias to float32 (half an ulp of the
                // largest such sum in the row, for this value and for the maximum and the sum
                // it is divided by).
                let row = index / width
                var largest: Float = 0
                for column in 0..<width {
                    let sum: Float = abs(scores[row * width + column] * 0.125) + abs(bias[row * width + column])
                    largest = max(largest, sum)
                }
                let rounding: Float = withBias ? 2 * 6e-8 * largest : 0
                let logarithm = Float(Foundation.log(Double(max(want, 1e-38))))
                let tolerance: Float = want * (4e-7 + rounding + 1.2e-7 * abs(logarithm))
                #expect(abs(got - want) <= tolerance + 1e-37, "\(set.name): \(got) for \(want)")
            }
            for r in 0..<rows {
                #expect(result[(r * width + width - masked)..<((r + 1) * width)].allSatisfy { $0 == 0 })
                #expect(abs(result[(r * width)..<((r + 1) * width)].reduce(0, +) - 1) < 1e-5)
            }
        }
    }

    @Test("The finiteness check finds one NaN or infinity anywhere, with every set")
    func allFinite() {
        for set in Self.sets {
            for count in [0, 1, 15, 16, 17, 100] {
                var values = randomFloats(count, seed: 13, range: 1e30)
                #expect(values.withUnsafeBufferPointer(set.allFinite), "\(set.name) \(count)")
                for index in [0, count / 2, count - 1] where count > 0 {
                    for bad in [Float.nan, .infinity, -.infinity] {
                        let saved = values[index]
                        values[index] = bad
                        #expect(!values.withUnsafeBufferPointer(set.allFinite), "\(set.name) \(bad) at \(index)")
                        values[index] = saved
                    }
                }
            }
        }
    }

    @Test("float16 and bfloat16 weights packed as stored equal the same weights widened first, with every set")
    func packNarrowWeights() throws {
        let (outFeatures, inFeatures) = (37, 45)
        let wide = Tensor(
            float32: randomFloats(outFeatures * inFeatures, seed: 21, range: 4), shape: [outFeatures, inFeatures])
        for set in Self.sets {
            for dtype in [DType.float16, .bfloat16] {
                let narrow = try wide.converted(to: dtype)
                let widened = try narrow.floatValues()
                let fromNarrow = narrow.withUnsafeBytes { bytes in
                    // swift-format-ignore: NeverForceUnwrap
                    let base = bytes.baseAddress!
                    return PackedWeights(
                        rows: (0..<outFeatures).map { base + $0 * inFeatures * 2 }, dtype: dtype,
                        inFeatures: inFeatures,
                        for: set)
                }
                let fromWide = widened.withUnsafeBufferPointer {
                    // swift-format-ignore: NeverForceUnwrap
                    PackedWeights(
                        linearWeight: $0.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures, for: set)
                }
                let count = fromWide.byteCount / 4
                #expect(fromNarrow.byteCount == fromWide.byteCount)
                #expect(
                    Array(UnsafeBufferPointer(start: fromNarrow.panels.base, count: count))
                        == Array(UnsafeBufferPointer(start: fromWide.panels.base, count: count)), "\(set.name) \(dtype)"
                )
            }
        }
    }
}
