import StreamingWeights
import Testing

@Suite("Float16 and bfloat16 conversions")
struct FloatConversionTests {
    @Test("Every float16 value widens exactly and narrows back to itself")
    func float16RoundTripIsExact() {
        for bits in UInt16.min...UInt16.max {
            let widened = FloatConversion.float(fromFloat16: bits)
            #expect(widened.bitPattern == Float(Float16(bitPattern: bits)).bitPattern || widened.isNaN)
            let narrowed = FloatConversion.float16(from: widened)
            if widened.isNaN {
                #expect(Float16(bitPattern: narrowed).isNaN)
            } else {
                #expect(narrowed == bits)
            }
        }
    }

    @Test("Narrowing to float16 rounds as Swift's Float16 does, ties to even")
    func float16RoundingMatchesSwift() {
        var generator = SystemRandomNumberGenerator()
        var values: [Float] = [
            0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, 6e-8, 5.9604645e-8, 2.9802322e-8,
            6.1035156e-5, 6.097555e-5, .infinity, -.infinity, .greatestFiniteMagnitude,
            .leastNonzeroMagnitude, 1.00048828125, 1.00146484375,
        ]
        for _ in 0..<200_000 {
            values.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)))
        }
        // Exact midpoints between neighbouring halves, where ties-to-even decides.
        for bits in stride(from: UInt16(0), to: 0x7bff, by: 97) {
            let low = FloatConversion.float(fromFloat16: bits)
            let high = FloatConversion.float(fromFloat16: bits + 1)
            values.append((low + high) / 2)
        }
        for value in values where !value.isNaN {
            #expect(FloatConversion.float16(from: value) == Float16(value).bitPattern, "value \(value)")
        }
    }

    @Test("bfloat16 keeps the top half of a float, rounded to nearest even")
    func bfloat16() {
        #expect(FloatConversion.bfloat16(from: 1) == 0x3f80)
        #expect(FloatConversion.bfloat16(from: -2) == 0xc000)
        #expect(FloatConversion.bfloat16(from: Float(bitPattern: 0x3f80_8000)) == 0x3f80)  // tie, even stays
        #expect(FloatConversion.bfloat16(from: Float(bitPattern: 0x3f81_8000)) == 0x3f82)  // tie, odd rounds up
        #expect(FloatConversion.bfloat16(from: Float(bitPattern: 0x3f80_8001)) == 0x3f81)
        #expect(FloatConversion.bfloat16(from: .infinity) == 0x7f80)
        #expect(FloatConversion.bfloat16(from: Float(bitPattern: 0x7f7f_ffff)) == 0x7f80)  // rounds up to infinity
        #expect(FloatConversion.float(fromBFloat16: FloatConversion.bfloat16(from: .nan)).isNaN)
        for bits in UInt16.min...UInt16.max {
            let value = FloatConversion.float(fromBFloat16: bits)
            if !value.isNaN {
                #expect(FloatConversion.bfloat16(from: value) == bits)
            }
        }
    }

    @Test("Tensors convert between float32, float16 and bfloat16 within rounding")
    func tensorConversion() throws {
        let values: [Float] = (0..<1000).map { Float($0) * 0.37 - 150 }
        let tensor = Tensor(float32: values, shape: [10, 100])
        let half = try tensor.converted(to: .float16)
        #expect(half.dtype == .float16 && half.shape == tensor.shape && half.byteCount == 2000)
        for (original, restored) in zip(values, try half.floatValues()) {
            #expect(abs(original - restored) <= abs(original) * 0x1p-11)
        }
        let brain = try tensor.converted(to: .bfloat16)
        for (original, restored) in zip(values, try brain.floatValues()) {
            #expect(abs(original - restored) <= abs(original) * 0x1p-8)
        }
        #expect(try half.converted(to: .float32).converted(to: .float16) == half)
        #expect(try tensor.converted(to: .float32) == tensor)
    }

    @Test("Integer tensors do not convert to floating point types")
    func integerConversionRejected() throws {
        let ids = try Tensor(dtype: .int64, shape: [2], bytes: [UInt8](repeating: 0, count: 16))
        #expect(throws: TensorError.unsupportedConversion(from: .int64, to: .float16)) {
            _ = try ids.converted(to: .float16)
        }
        #expect(throws: TensorError.unsupportedConversion(from: .int64, to: .float32)) {
            _ = try ids.floatValues()
        }
    }

    @Test("Widening a tensor (through the fastest kernel set) gives every float16 and bfloat16 value exactly")
    func widenEveryPattern() throws {
        let bits = (0...UInt16.max).map { $0 }
        let bytes = bits.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        for dtype in [DType.float16, .bfloat16] {
            let values = try Tensor(dtype: dtype, shape: [bits.count], bytes: bytes).floatValues()
            for (pattern, value) in zip(bits, values) {
                let expected =
                    dtype == .float16
                    ? FloatConversion.float(fromFloat16: pattern) : FloatConversion.float(fromBFloat16: pattern)
                #expect(
                    value.bitPattern == expected.bitPattern || (value.isNaN && expected.isNaN),
                    "\(dtype) 0x\(String(pattern, radix: 16))")
            }
        }
    }
}
