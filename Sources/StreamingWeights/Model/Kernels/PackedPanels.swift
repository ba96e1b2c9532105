/// The right-hand operand B `[depth, columns]` of a matmul, rearranged for a kernel set's
/// micro-kernel.
///
/// Columns are grouped into panels of the set's ``KernelSet/panelWidth`` (32 for AVX-512, 16 for
/// AVX2, NEON and portable: the tile's width); panel p stores, for each k, the `width` values
/// `B[k, width·p ..< width·(p + 1)]` contiguously, so the kernel streams it with vector loads.
/// The last panel is padded with zeros. Weights are packed once when a layer is loaded;
/// attention packs its keys and values per forward pass into a workspace.
public struct PackedPanels {
    /// The kernel set the panels are laid out for, which must multiply them.
    public let kernels: KernelSet
    /// The packed values.
    public let base: UnsafeMutablePointer<Float>
    /// K: the length of the dot products.
    public let depth: Int
    /// N: the number of output columns.
    public let columns: Int
    /// The columns of a panel as laid out: ``width``, or ``chunkPanelWidth`` for weights
    /// pre-packed in a chunk set, whose panels a narrower kernel set reads in parts.
    public let packedWidth: Int

    /// The panel width of weights pre-packed by the chunker (`weight_layout` `panels32`,
    /// docs/FORMAT.md): the widest kernel set's, a multiple of every set's.
    public static let chunkPanelWidth = 32

    /// The columns in a panel.
    public var width: Int { kernels.panelWidth }

    /// The panels holding the columns.
    public var panelCount: Int { (columns + width - 1) / width }

    /// The floats needed to pack a `[depth, columns]` matrix for `kernels`.
    public static func floatCount(depth: Int, columns: Int, kernels: KernelSet) -> Int {
        let width = kernels.panelWidth
        return (columns + width - 1) / width * width * depth
    }

    /// Packs the matrix whose element (k, n) is `source[n * columnStride + k * depthStride]` into
    /// `destination`, which must hold ``floatCount(depth:columns:kernels:)`` floats.
    ///
    /// One of the strides is 1: `depthStride: 1` when each column lies contiguous in the source
    /// (a PyTorch `Linear` weight `[outFeatures, inFeatures]` as B = Wᵀ, attention's key vectors),
    /// packed by the kernel set's transposing pack; `columnStride: 1` for a row-major `[K, N]`
    /// matrix with leading dimension `depthStride` (attention's values), copied row by row.
    public init(
        packing source: UnsafePointer<Float>,
        depth: Int,
        columns: Int,
        columnStride: Int,
        depthStride: Int,
        for kernels: KernelSet,
        into destination: UnsafeMutablePointer<Float>
    ) {
        precondition(depthStride == 1 || columnStride == 1, "one of the strides must be 1")
        self.init(kernels: kernels, base: destination, depth: depth, columns: columns)
        if depthStride == 1 {
            let rows = (0..<columns).map { Optional(UnsafeRawPointer(source + $0 * columnStride)) }
            rows.withUnsafeBufferPointer { kernels.functions.pack($0.baseAddress, columns, depth, 0, destination) }
            return
        }
        let width = self.width
        for panel in 0..<panelCount {
            let panelBase = destination + panel * width * depth
            let firstColumn = panel * width
            let valid = min(width, columns - firstColumn)
            for k in 0..<depth {
                let out = panelBase + k * width
                out.update(from: source + k * depthStride + firstColumn, count: valid)
                if valid < width { (out + valid).update(repeating: 0, count: width - valid) }
            }
        }
    }

    /// Panels already packed at `base`, `packedWidth` columns wide (the set's own by default;
    /// a multiple of it).
    init(kernels: KernelSet, base: UnsafeMutablePointer<Float>, depth: Int, columns: Int, packedWidth: Int? = nil) {
        let packedWidth = packedWidth ?? kernels.panelWidth
        precondition(
            packedWidth % kernels.panelWidth == 0,
            "panels of \(packedWidth) columns for a \(kernels.panelWidth)-wide kernel")
        self.kernels = kernels
        self.base = base
        self.depth = depth
        self.columns = columns
        self.packedWidth = packedWidth
    }
}

/// Packed weights that own their memory, for the lifetime of a loaded layer.
public final class PackedWeights: @unchecked Sendable {
    /// The packed panels.
    public let panels: PackedPanels
    /// Their memory, from the shared pool: a streamed layer's panels reuse an evicted one's.
    private let storage: BufferPool.Memory

    /// Packs a PyTorch `Linear` weight `[outFeatures, inFeatures]` (B = Wᵀ) for `kernels`.
    public convenience init(
        linearWeight weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, for kernels: KernelSet
    ) {
        let base = UnsafeRawPointer(weight)
        self.init(rows: (0..<outFeatures).map { base + $0 * inFeatures * 4 }, inFeatures: inFeatures, for: kernels)
    }

    /// The dtypes ``init(rows:dtype:inFeatures:for:)`` packs from, with the kernels' code for each.
    static let packedDTypes: [DType: Int32] = [.float32: 0, .float16: 1, .bfloat16: 2]

    /// Packs a `Linear` weight given row by row for `kernels`.
    ///
    /// `rows[n]` points at the `inFeatures` weights of output n stored as `dtype` (float32,
    /// float16 or bfloat16), not necessarily aligned (a tensor inside a received message), so
    /// the rows of several weights are packed side by side where they lie, narrow ones widened
    /// on the way: no float32 copy is made. The kernel set's pack transposes 16 x 16 blocks in
    /// registers.
    public init(rows: [UnsafeRawPointer], dtype: DType = .float32, inFeatures: Int, for kernels: KernelSet) {
        guard let code = Self.packedDTypes[dtype] else {
            preconditionFailure("weights of \(dtype) are packed after widening them to float32")
        }
        let count = PackedPanels.floatCount(depth: inFeatures, columns: rows.count, kernels: kernels)
        storage = BufferPool.shared.take(count * 4)
        let memory = storage.base.bindMemory(to: Float.self, capacity: count)
        rows.map(Optional.some).withUnsafeBufferPointer { pointers in
            kernels.functions.pack(pointers.baseAddress, rows.count, inFeatures, code, memory)
        }
        panels = PackedPanels(kernels: kernels, base: memory, depth: inFeatures, columns: rows.count)
    }

    /// The bytes held.
    public var byteCount: Int {
        PackedPanels.floatCount(depth: panels.depth, columns: panels.columns, kernels: panels.kernels) * 4
    }
}
