/// Vectorised `exp`, `erf` and GELU on 16 lanes of float32.
///
/// Scalar `expf`/`erff` cost more than the matmul they follow (../shared/TOOLS.md: 3.5 and 18 ns
/// an element against 0.33 and 0.375), so the elementwise kernels use these. Float-to-integer
/// conversion of SIMD vectors runs lane by lane, so `exp` builds 2^n with the "magic number"
/// trick on the bit pattern instead.
public enum VectorMath {
    public typealias Vector = SIMD16<Float>

    /// e^x for every lane, relative error under 2e-7 for x in [-87.3, 88.3]; exactly 0 below that
    /// (so masked attention scores get no weight at all), and e^88.37 above it.
    ///
    /// Cephes' `expf`: x = n ln 2 + r with |r| <= ln2 / 2, e^r by a degree-6 polynomial, then
    /// the exponent field of the result set to n.
    @inlinable @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        // The upper bound keeps n at most 127, so 2^n stays a normal float.
        let clamped = clamp(x, -87.336_54, 88.376_26)
        // Adding 1.5 * 2^23 rounds x * log2(e) to an integer held in the low mantissa bits.
        let magic = Vector(repeating: 12_582_912)
        let shifted = magic.addingProduct(clamped, Vector(repeating: 1.442_695_04))
        let n = shifted - magic
        var r = clamped.addingProduct(n, Vector(repeating: -0.693_359_375))
        r = r.addingProduct(n, Vector(repeating: 2.121_944_4e-4))
        var p = Vector(repeating: 1.987_569_15e-4)
        p = Vector(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = Vector(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = Vector(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = Vector(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = Vector(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let er = (r + 1).addingProduct(p, r * r)
        // 2^n: the rounded integer sits in the low bits of `shifted`'s pattern, offset by the magic's.
        let bits = unsafeBitCast(shifted, to: SIMD16<UInt32>.self)
        let scale = (bits &+ (127 &- 0x4B40_0000)) &<< 23
        return (er * unsafeBitCast(scale, to: Vector.self)).replacing(with: 0, where: x .< -87.336_54)
    }

    /// erf(x) for every lane, absolute error under 1e-6.
    ///
    /// A rational approximation x * P(x^2) / Q(x^2) on [-4, 4] (erf is ±1 to float precision
    /// outside), with the minimax coefficients of Eigen's and XLA's float `erf`.
    @inlinable @inline(__always)
    public static func erf(_ x: Vector) -> Vector {
        let clamped = clamp(x, -4, 4)
        let x2 = clamped * clamped
        var p = Vector(repeating: -2.726_142_258_013_06e-10)
        p = Vector(repeating: 2.770_681_424_959_02e-08).addingProduct(p, x2)
        p = Vector(repeating: -2.101_024_020_825_08e-06).addingProduct(p, x2)
        p = Vector(repeating: -5.692_506_394_623_46e-05).addingProduct(p, x2)
        p = Vector(repeating: -7.349_906_303_268_55e-04).addingProduct(p, x2)
        p = Vector(repeating: -2.954_599_808_540_25e-03).addingProduct(p, x2)
        p = Vector(repeating: -1.609_603_332_624_15e-02).addingProduct(p, x2)
        p = p * clamped
        var q = Vector(repeating: -1.456_607_184_649_96e-05)
        q = Vector(repeating: -2.133_740_552_789_05e-04).addingProduct(q, x2)
        q = Vector(repeating: -1.682_826_974_382_03e-03).addingProduct(q, x2)
        q = Vector(repeating: -7.373_329_167_204_68e-03).addingProduct(q, x2)
        q = Vector(repeating: -1.426_473_905_141_89e-02).addingProduct(q, x2)
        return p / q
    }

    /// Each lane limited to `[low, high]`.
    ///
    /// The standard library's `clamped` and `pointwiseMin`/`pointwiseMax` are generic and run lane
    /// by lane; comparisons and `replacing(with:where:)` compile to vector instructions.
    @inlinable @inline(__always)
    public static func clamp(_ x: Vector, _ low: Float, _ high: Float) -> Vector {
        x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
    }

    /// The larger of each pair of lanes.
    @inlinable @inline(__always)
    public static func maximum(_ a: Vector, _ b: Vector) -> Vector {
        a.replacing(with: b, where: b .> a)
    }

    /// GELU in its erf form, x * (1 + erf(x / sqrt 2)) / 2, as `torch.nn.functional.gelu` computes it.
    @inlinable @inline(__always)
    public static func gelu(_ x: Vector) -> Vector {
        x * 0.5 * (1 + erf(x * 0.707_106_781_186_547_5))
    }

    /// Whether every value is finite (no NaN, no infinity).
    ///
    /// x * 0 is 0 for a finite x and NaN otherwise, and a NaN stays NaN through a sum, so one
    /// multiply-add per 16 values answers for all of them.
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var accumulator = Vector()
        var index = 0
        while index + Vector.scalarCount <= values.count {
            accumulator += raw.loadUnaligned(fromByteOffset: index * 4, as: Vector.self) * 0
            index += Vector.scalarCount
        }
        var tail: Float = 0
        while index < values.count {
            tail += values[index] * 0
            index += 1
        }
        return accumulator.sum() + tail == 0
    }
}
