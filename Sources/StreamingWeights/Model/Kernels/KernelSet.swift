import CKernels
import Foundation

/// The compute kernels for one instruction set: AVX-512, AVX2, NEON, or portable C.
///
/// Swift cannot give one function other target features than the rest of the build, so a plain
/// `swift build -c release` would lower every SIMD kernel to the baseline (SSE2 on x86-64). The
/// kernels live in the `CKernels` C target instead, one file per instruction set compiled for it
/// whatever the build's flags, and the CPU's features, read at run time, pick the set
/// (``selected(environment:)``). A set's tile shape decides how weights are packed
/// (``PackedPanels``), so packed weights remember the set they were packed for.
public struct KernelSet: Sendable, Equatable, CustomStringConvertible {
    /// The C functions; a static table in the C target, alive for the process.
    private let table: UnsafeSendable<UnsafePointer<sw_kernel_set>>

    private init(_ table: UnsafePointer<sw_kernel_set>) {
        self.table = UnsafeSendable(table)
    }

    var functions: sw_kernel_set { table.value.pointee }

    /// `avx512`, `avx2`, `neon` or `portable`: what `STREAMING_WEIGHTS_KERNELS` names.
    public var name: String { String(cString: functions.name) }

    /// The instruction set and tile, for messages: `AVX-512F + FMA, 8x32 tile`.
    public var description: String { String(cString: functions.description) }

    /// Rows of A per micro-kernel call.
    public var rowBlock: Int { functions.row_block }

    /// Columns per packed panel of B: the micro-kernel's tile width.
    public var panelWidth: Int { functions.panel_width }

    /// Whether this CPU (and its operating system) can run the set.
    public var isSupported: Bool { sw_cpu_supports(table.value) != 0 }

    public static func == (lhs: KernelSet, rhs: KernelSet) -> Bool { lhs.table.value == rhs.table.value }

    /// The names of every kernel set there is, on any architecture.
    public static let names = ["avx512", "avx2", "neon", "portable"]

    /// Every set compiled for this architecture, fastest first; the portable set is last.
    public static let compiled: [KernelSet] = [
        sw_kernels_avx512(), sw_kernels_avx2(), sw_kernels_neon(), sw_kernels_portable(),
    ].compactMap { $0.map(KernelSet.init) }

    /// The sets this CPU can run, fastest first.
    public static var supported: [KernelSet] { compiled.filter(\.isSupported) }

    /// The portable C set, which every CPU runs.
    public static var portable: KernelSet {
        // swift-format-ignore: NeverForceUnwrap
        // The C target always defines the portable set.
        KernelSet(sw_kernels_portable()!)
    }

    /// The CPU's model name (its brand string on x86-64), or an empty string.
    public static let cpuModel = String(cString: sw_cpu_model())

    /// The set to compute with: the one `STREAMING_WEIGHTS_KERNELS` names in `environment`, or
    /// else the fastest this CPU runs.
    ///
    /// - Throws: ``KernelSetError`` when the variable names a set that does not exist or that
    ///   this CPU cannot run (which would otherwise end the process with SIGILL); the error
    ///   lists the sets it can run.
    public static func selected(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KernelSetError) -> KernelSet {
        let available = supported
        guard let forced = environment["STREAMING_WEIGHTS_KERNELS"], !forced.isEmpty else {
            return available.first ?? portable
        }
        guard names.contains(forced) else { throw .unknown(forced, supported: available.map(\.name)) }
        guard let set = available.first(where: { $0.name == forced }) else {
            throw .unsupported(forced, supported: available.map(\.name))
        }
        return set
    }

    /// Whether the fastest set this CPU runs is the portable one (it has no AVX2, no NEON).
    public static var onlyPortable: Bool { supported.first == portable }

    /// What the tools' `--version` adds: the set that would run and the CPU, or why none can.
    public static var versionSummary: String {
        do {
            let set = try selected()
            return "kernels \(set.name) (\(set)) on \(cpuModel.isEmpty ? "this CPU" : cpuModel)"
        } catch {
            return "kernels: \(error)"
        }
    }

    // MARK: - Kernels

    /// Layer normalisation with a residual: `output[r]` = LayerNorm(`x[r]` + `residual[r]`).
    ///
    /// Over `rows` rows of `width`, times `weight` plus `bias`, as `torch.nn.LayerNorm` computes
    /// it (biased variance, `epsilon` inside the square root). `output` may be `x` or `residual`.
    public func layerNorm(
        _ x: UnsafePointer<Float>, residual: UnsafePointer<Float>?, rows: Int, width: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
        into output: UnsafeMutablePointer<Float>
    ) {
        functions.layer_norm(x, residual, rows, width, weight, bias, epsilon, output)
    }

    /// Replaces each of `rows` rows of `width` scores s (rows `stride` floats apart) with
    /// softmax(s · scale + mask), or softmax(s · scale + bias + mask) given a bias; `mask`
    /// `[width]` holds 0 to keep a column and ``BertSelfAttention/maskedValue`` to drop it, or is
    /// `nil`; row r's bias is the `width` floats at `bias + r * biasStride` (a stride of -1
    /// slides along one vector, for a bias of column minus row).
    public func softmax(
        _ scores: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int, scale: Float,
        mask: UnsafePointer<Float>?, bias: UnsafePointer<Float>? = nil, biasStride: Int = 0
    ) {
        functions.softmax(scores, rows, width, stride, scale, mask, bias, biasStride)
    }

    /// Whether all `values` are finite (no NaN, no infinity).
    public func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress else { return true }
        return functions.all_finite(base, values.count) != 0
    }

    /// The micro-kernel driver over the panels `panels` of `b` (``Matmul`` splits the panels
    /// between threads).
    func gemm(
        _ a: UnsafePointer<Float>, aStride: Int, rows: Int, b: PackedPanels, panels: Range<Int>,
        bias: UnsafePointer<Float>?, gelu: Bool, into c: UnsafeMutablePointer<Float>, cStride: Int
    ) {
        sw_gemm(
            table.value, a, aStride, rows, b.base, b.depth, b.packedWidth, b.columns, panels.lowerBound,
            panels.upperBound, bias, gelu ? 1 : 0, c, cStride)
    }
}

extension KernelSet {
    /// The driver for weights as stored (``WeightLayout/stored``): output columns `columns` of
    /// C = A · Wᵀ + bias, A packed as weights are, W's rows `depth` floats apart.
    func gemmStored(
        packedA: UnsafePointer<Float>, rows: Int, weights: UnsafePointer<Float>, depth: Int, columns: Range<Int>,
        bias: UnsafePointer<Float>?, gelu: Bool, into c: UnsafeMutablePointer<Float>, cStride: Int
    ) {
        sw_gemm_stored(
            table.value, packedA, rows, weights, depth, depth, columns.lowerBound, columns.upperBound, bias,
            gelu ? 1 : 0, c, cStride)
    }
}

/// A kernel set that `STREAMING_WEIGHTS_KERNELS` asks for and cannot have.
public enum KernelSetError: Error, Hashable, CustomStringConvertible {
    /// A name that is no kernel set.
    case unknown(String, supported: [String])
    /// A set this CPU cannot run.
    case unsupported(String, supported: [String])

    public var description: String {
        switch self {
        case .unknown(let name, let supported):
            "STREAMING_WEIGHTS_KERNELS=\(name) names no kernel set; this CPU can run: "
                + supported.joined(separator: ", ")
        case .unsupported(let name, let supported):
            "STREAMING_WEIGHTS_KERNELS=\(name): this CPU (\(KernelSet.cpuModel)) cannot run the \(name) kernels; it can run: "
                + supported.joined(separator: ", ")
        }
    }
}
