import CKernels

/// Conversions between float32 and the 16-bit float formats, on bit patterns.
///
/// Widening many values at once goes through the C kernels (``KernelSet``), which widen
/// exactly with F16C or NEON where the CPU has them; the scalar functions here define the
/// conversions and narrow.
///
/// Written on integers rather than Swift's `Float16`, which is not available on every platform
/// and without F16C becomes a library call per element. Narrowing rounds to nearest, ties to
/// even; NaN stays NaN (quiet) and infinities stay infinite.
public enum FloatConversion {
    /// The float32 value of an IEEE 754 binary16 bit pattern (exact).
    @inlinable
    public static func float(fromFloat16 bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1f
        var mantissa = UInt32(bits & 0x03ff)
        switch exponent {
        case 0x1f:
            return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        case 0 where mantissa == 0:
            return Float(bitPattern: sign)
        case 0:
            // A subnormal half is a normal float: shift the mantissa up until its leading 1 is the
            // implicit bit, lowering the exponent once per shift.
            var floatExponent: UInt32 = 127 - 14
            while mantissa & 0x0400 == 0 {
                mantissa <<= 1
                floatExponent -= 1
            }
            return Float(bitPattern: sign | (floatExponent << 23) | ((mantissa & 0x03ff) << 13))
        default:
            return Float(bitPattern: sign | ((exponent + 127 - 15) << 23) | (mantissa << 13))
        }
    }

    /// The binary16 bit pattern nearest to `value`; values of magnitude 65520 or more become infinity.
    @inlinable
    public static func float16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let magnitude = bits & 0x7fff_ffff
        if magnitude > 0x7f80_0000 {
            return sign | 0x7e00 | UInt16((magnitude >> 13) & 0x03ff)
        }
        if magnitude >= 0x477f_f000 {
            return sign | 0x7c00
        }
        if magnitude < 0x3880_0000 {
            // Below the smallest normal half (2^-14): the result is a multiple of 2^-24, and the
            // scaling by a power of two is exact, so rounding the scaled value rounds correctly.
            let scaled = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)
        }
        let exponent = (magnitude >> 23) + 15 - 127
        let mantissa = magnitude & 0x007f_ffff
        var half = (exponent << 10) | (mantissa >> 13)
        let remainder = mantissa & 0x1fff
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) {
            half += 1
        }
        return sign | UInt16(half)
    }

    /// The float32 value of a bfloat16 bit pattern (exact).
    @inlinable
    public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 bit pattern nearest to `value`.
    @inlinable
    public static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN {
            return UInt16(bits >> 16) | 0x0040
        }
        let roundingBias: UInt32 = 0x7fff + ((bits >> 16) & 1)
        return UInt16((bits &+ roundingBias) >> 16)
    }

    /// Widens little-endian elements of a floating-point `dtype` from `source` into `destination`.
    ///
    /// - Precondition: `dtype` is floating point and `destination` has room for every element.
    static func convert(
        _ source: UnsafeRawBufferPointer, from dtype: DType, toFloat32 destination: UnsafeMutableBufferPointer<Float>
    ) {
        let count = source.count / dtype.byteCount
        precondition(destination.count >= count, "destination too small")
        switch dtype {
        case .float32:
            for index in 0..<count {
                destination[index] = Float(
                    bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
            }
        case .float16, .bfloat16:
            // Exact in every kernel set, so the fastest this CPU has widens (F16C or NEON for float16).
            guard count > 0, let from = source.baseAddress, let to = destination.baseAddress else { return }
            let kernels = sw_kernels_best().pointee
            if dtype == .float16 {
                kernels.widen_float16(from, to, count)
            } else {
                kernels.widen_bfloat16(from, to, count)
            }
        case .float64:
            for index in 0..<count {
                destination[index] = Float(
                    Double(
                        bitPattern: UInt64(
                            littleEndian: source.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))))
            }
        default:
            preconditionFailure("\(dtype) is not a floating-point dtype")
        }
    }

    /// Narrows (or copies) float32 values into little-endian elements of `dtype`: F32, F16 or BF16.
    static func convert(
        _ source: UnsafeBufferPointer<Float>, toFloat dtype: DType, into destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(destination.count >= source.count * dtype.byteCount, "destination too small")
        switch dtype {
        case .float32:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        case .float16:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: float16(from: value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        case .bfloat16:
            for (index, value) in source.enumerated() {
                destination.storeBytes(of: bfloat16(from: value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        default:
            preconditionFailure("cannot narrow to \(dtype)")
        }
    }
}
