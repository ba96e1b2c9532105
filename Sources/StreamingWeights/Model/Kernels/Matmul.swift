import CPrefetch

/// Matrix multiplication with packed weights and a register-tiled SIMD micro-kernel.
///
/// C `[rows, N]` = A `[rows, K]` · B `[K, N]` + bias `[N]`, then an optional GELU, where B is
/// packed into ``PackedPanels``. The work is blocked GotoBLAS-style: for each block of 256 along
/// K, each 32-column panel of B (32 KB, L1-resident) meets every 8-row block of A, and an 8x32
/// tile of C lives in 16 vector registers while the kernel runs down K. Threads split the panels
/// between them, so they write disjoint columns of C.
public enum Matmul {
    /// What is applied to each output element after the bias.
    public enum Epilogue: Sendable {
        case none
        /// GELU, erf form.
        case gelu
    }

    /// Rows of A (and C) per micro-kernel call.
    static let rowBlock = 8
    /// Depth of B per block: 768 x 32 floats (96 KB) stay in L2 while every row block of A meets
    /// them (measured best of 128 to 1536 for BERT shapes on Zen 5; scripts/bench).
    static let depthBlock = 768

    /// Computes C = A · B (+ bias) (then GELU).
    ///
    /// - Parameters:
    ///   - a: `[rows, b.depth]` with rows `aStride` floats apart.
    ///   - b: the packed right-hand side, `[K, N]`.
    ///   - bias: `[N]`, or `nil`.
    ///   - c: `[rows, b.columns]` with rows `cStride` floats apart; must not overlap `a`.
    /// - Precondition: `b.depth > 0`, strides at least the row lengths.
    public static func multiply(
        _ a: UnsafePointer<Float>,
        aStride: Int,
        rows: Int,
        by b: PackedPanels,
        bias: UnsafePointer<Float>?,
        epilogue: Epilogue = .none,
        into c: UnsafeMutablePointer<Float>,
        cStride: Int,
        threads: ComputeThreads
    ) {
        precondition(b.depth > 0 && aStride >= b.depth && cStride >= b.columns, "matmul shapes disagree")
        guard rows > 0 else { return }
        let shared = UnsafeSendable((a, b, bias, c))
        let work = rows * b.depth * b.columns
        threads.forEachRange(of: PackedPanels.panelCount(columns: b.columns), work: work) { panels in
            let (a, b, bias, c) = shared.value
            for depthStart in stride(from: 0, to: b.depth, by: depthBlock) {
                let depthLength = min(depthBlock, b.depth - depthStart)
                let isFirst = depthStart == 0
                let isLast = depthStart + depthLength == b.depth
                for panel in panels {
                    let column = panel * PackedPanels.width
                    let width = min(PackedPanels.width, b.columns - column)
                    let panelBlock = b.base + panel * PackedPanels.width * b.depth + depthStart * PackedPanels.width
                    for row in stride(from: 0, to: rows, by: rowBlock) {
                        tile(
                            a: a + row * aStride + depthStart,
                            aStride: aStride,
                            rows: min(rowBlock, rows - row),
                            panel: panelBlock,
                            depth: depthLength,
                            c: c + row * cStride + column,
                            cStride: cStride,
                            width: width,
                            bias: isFirst ? bias.map { $0 + column } : nil,
                            loadsC: !isFirst,
                            epilogue: isLast ? epilogue : .none
                        )
                    }
                }
            }
        }
    }

    /// One 8x32 tile of C: `rows` (1...8) rows and `width` (1...32) columns are valid.
    @inline(__always)
    static func tile(
        a: UnsafePointer<Float>,
        aStride: Int,
        rows: Int,
        panel: UnsafePointer<Float>,
        depth: Int,
        c: UnsafeMutablePointer<Float>,
        cStride: Int,
        width: Int,
        bias: UnsafePointer<Float>?,
        loadsC: Bool,
        epilogue: Epilogue
    ) {
        guard width == 32 else {
            // A tile whose columns are not all valid runs on a 32-wide scratch copy of C.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * 32) { buffer in
                // swift-format-ignore: NeverForceUnwrap
                // A temporary allocation of 256 floats has storage.
                let scratch = buffer.baseAddress!
                for r in 0..<8 {
                    (scratch + r * 32).update(repeating: 0, count: 32)
                    if loadsC && r < rows { (scratch + r * 32).update(from: c + r * cStride, count: width) }
                }
                var paddedBias: (SIMD16<Float>, SIMD16<Float>)?
                if let bias {
                    var low = SIMD16<Float>(repeating: 0)
                    var high = SIMD16<Float>(repeating: 0)
                    for j in 0..<width {
                        if j < 16 { low[j] = bias[j] } else { high[j - 16] = bias[j] }
                    }
                    paddedBias = (low, high)
                }
                fullTile(
                    a: a, aStride: aStride, rows: rows, panel: panel, depth: depth, c: scratch, cStride: 32,
                    bias: paddedBias, loadsC: true, epilogue: epilogue)
                for r in 0..<rows { (c + r * cStride).update(from: scratch + r * 32, count: width) }
            }
            return
        }
        var paddedBias: (SIMD16<Float>, SIMD16<Float>)?
        if let bias {
            paddedBias = (
                UnsafeRawPointer(bias).loadUnaligned(as: SIMD16<Float>.self),
                UnsafeRawPointer(bias + 16).loadUnaligned(as: SIMD16<Float>.self)
            )
        }
        fullTile(
            a: a, aStride: aStride, rows: rows, panel: panel, depth: depth, c: c, cStride: cStride,
            bias: paddedBias, loadsC: loadsC, epilogue: epilogue)
    }

    /// One 8x32 tile of C with all 32 columns present: `rows` (1...8) rows are valid.
    @inline(__always)
    static func fullTile(
        a: UnsafePointer<Float>,
        aStride: Int,
        rows: Int,
        panel: UnsafePointer<Float>,
        depth: Int,
        c: UnsafeMutablePointer<Float>,
        cStride: Int,
        bias: (SIMD16<Float>, SIMD16<Float>)?,
        loadsC: Bool,
        epilogue: Epilogue
    ) {
        typealias Vector = SIMD16<Float>
        let bias0 = bias?.0 ?? Vector(repeating: 0)
        let bias1 = bias?.1 ?? Vector(repeating: 0)
        @inline(__always)
        func initial(_ r: Int) -> (Vector, Vector) {
            guard loadsC else { return (bias0, bias1) }
            let row = UnsafeRawPointer(c + min(r, rows - 1) * cStride)
            return (
                row.loadUnaligned(as: Vector.self) + bias0,
                row.loadUnaligned(fromByteOffset: 64, as: Vector.self) + bias1
            )
        }
        var (c00, c01) = initial(0)
        var (c10, c11) = initial(1)
        var (c20, c21) = initial(2)
        var (c30, c31) = initial(3)
        var (c40, c41) = initial(4)
        var (c50, c51) = initial(5)
        var (c60, c61) = initial(6)
        var (c70, c71) = initial(7)

        // Rows past `rows` repeat the last valid row; their results are not stored.
        let a0 = a
        let a1 = a + min(1, rows - 1) * aStride
        let a2 = a + min(2, rows - 1) * aStride
        let a3 = a + min(3, rows - 1) * aStride
        let a4 = a + min(4, rows - 1) * aStride
        let a5 = a + min(5, rows - 1) * aStride
        let a6 = a + min(6, rows - 1) * aStride
        let a7 = a + min(7, rows - 1) * aStride
        var b = UnsafeRawPointer(panel)
        // The hot loop: two vector loads of B and eight broadcasts of A feed 16 FMAs.
        for k in 0..<depth {
            // B streams from memory on the first row block of a panel: ask for it 16 steps ahead.
            cprefetch_read(b + 2048)
            cprefetch_read(b + 2048 + 64)
            let b0 = b.loadUnaligned(as: Vector.self)
            let b1 = b.loadUnaligned(fromByteOffset: 64, as: Vector.self)
            var s = Vector(repeating: a0[k])
            c00 = c00.addingProduct(s, b0)
            c01 = c01.addingProduct(s, b1)
            s = Vector(repeating: a1[k])
            c10 = c10.addingProduct(s, b0)
            c11 = c11.addingProduct(s, b1)
            s = Vector(repeating: a2[k])
            c20 = c20.addingProduct(s, b0)
            c21 = c21.addingProduct(s, b1)
            s = Vector(repeating: a3[k])
            c30 = c30.addingProduct(s, b0)
            c31 = c31.addingProduct(s, b1)
            s = Vector(repeating: a4[k])
            c40 = c40.addingProduct(s, b0)
            c41 = c41.addingProduct(s, b1)
            s = Vector(repeating: a5[k])
            c50 = c50.addingProduct(s, b0)
            c51 = c51.addingProduct(s, b1)
            s = Vector(repeating: a6[k])
            c60 = c60.addingProduct(s, b0)
            c61 = c61.addingProduct(s, b1)
            s = Vector(repeating: a7[k])
            c70 = c70.addingProduct(s, b0)
            c71 = c71.addingProduct(s, b1)
            b += 128
        }

        @inline(__always)
        func store(_ r: Int, _ low: Vector, _ high: Vector) {
            guard r < rows else { return }
            var low = low
            var high = high
            if case .gelu = epilogue {
                low = VectorMath.gelu(low)
                high = VectorMath.gelu(high)
            }
            let row = UnsafeMutableRawPointer(c + r * cStride)
            row.storeBytes(of: low, as: Vector.self)
            row.storeBytes(of: high, toByteOffset: 64, as: Vector.self)
        }
        store(0, c00, c01)
        store(1, c10, c11)
        store(2, c20, c21)
        store(3, c30, c31)
        store(4, c40, c41)
        store(5, c50, c51)
        store(6, c60, c61)
        store(7, c70, c71)
    }
}
