/// Matrix multiplication with packed weights and a register-tiled micro-kernel.
///
/// C `[rows, N]` = A `[rows, K]` · B `[K, N]` + bias `[N]`, then an optional GELU, where B is
/// packed into ``PackedPanels`` for a ``KernelSet``, whose micro-kernel computes it
/// (GotoBLAS-style blocking: each panel of B meets every row block of A while a tile of C lives
/// in registers). Threads split the panels between them, so they write disjoint columns of C.
public enum Matmul {
    /// What is applied to each output element after the bias.
    public enum Epilogue: Sendable {
        case none
        /// GELU, erf form.
        case gelu
    }

    /// Computes C = A · B (+ bias) (then GELU) with the kernel set `b` was packed for.
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
        let gelu = epilogue == .gelu
        threads.forEachRange(of: b.panelCount, work: rows * b.depth * b.columns) { panels in
            let (a, b, bias, c) = shared.value
            b.kernels.gemm(
                a, aStride: aStride, rows: rows, b: b, panels: panels, bias: bias, gelu: gelu, into: c, cStride: cStride
            )
        }
    }

    /// output `[rows, columns]` = A `[rows, depth]` · Wᵀ + bias, then `epilogue`, with the
    /// weights `weights` as stored: A is packed instead (into a pooled buffer, once per call),
    /// and the result is the same bits as with the weights packed.
    public static func multiply(
        _ a: UnsafePointer<Float>,
        aStride: Int,
        rows: Int,
        byStored weights: StoredWeights,
        bias: UnsafePointer<Float>?,
        epilogue: Epilogue = .none,
        into c: UnsafeMutablePointer<Float>,
        cStride: Int,
        threads: ComputeThreads
    ) {
        let depth = weights.inFeatures
        let kernels = weights.kernels
        precondition(depth > 0 && aStride >= depth, "matmul shapes disagree")
        guard rows > 0 else { return }
        let count = PackedPanels.floatCount(depth: depth, columns: rows, kernels: kernels)
        let memory = BufferPool.shared.take(count * 4)
        let packedA = PackedPanels(
            packing: a, depth: depth, columns: rows, columnStride: aStride, depthStride: 1, for: kernels,
            into: memory.base.bindMemory(to: Float.self, capacity: count))
        let gelu = epilogue == .gelu
        let rowBlock = kernels.rowBlock
        var column = 0
        for segment in weights.segments {
            let shared = UnsafeSendable((packedA.base, segment.base, bias.map { $0 + column }, c + column))
            let blocks = (segment.rows + rowBlock - 1) / rowBlock
            threads.forEachRange(of: blocks, work: rows * depth * segment.rows) { range in
                let (packedA, weights, bias, c) = shared.value
                kernels.gemmStored(
                    packedA: packedA, rows: rows, weights: weights, depth: depth,
                    columns: (range.lowerBound * rowBlock)..<min(range.upperBound * rowBlock, segment.rows), bias: bias,
                    gelu: gelu, into: c, cStride: cStride)
            }
            column += segment.rows
        }
        withExtendedLifetime(memory) {}
    }
}
