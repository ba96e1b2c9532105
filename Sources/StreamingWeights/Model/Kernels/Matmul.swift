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
}
