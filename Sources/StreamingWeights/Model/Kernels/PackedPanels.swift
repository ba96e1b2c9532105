/// The right-hand operand B `[depth, columns]` of a matmul, rearranged for the micro-kernel.
///
/// Columns are grouped into panels of ``width`` (32: two 16-lane vectors); panel p stores, for
/// each k, the 32 values `B[k, 32p ..< 32p + 32]` contiguously, so the kernel streams it with
/// aligned vector loads. The last panel is padded with zeros. Weights are packed once when a
/// layer is loaded; attention packs its keys and values per forward pass into a workspace.
public struct PackedPanels {
    /// The columns in a panel.
    public static let width = 32

    /// The packed values.
    public let base: UnsafeMutablePointer<Float>
    /// K: the length of the dot products.
    public let depth: Int
    /// N: the number of output columns.
    public let columns: Int

    /// The panels needed for `columns`.
    public static func panelCount(columns: Int) -> Int { (columns + width - 1) / width }

    /// The floats needed to pack a `[depth, columns]` matrix.
    public static func floatCount(depth: Int, columns: Int) -> Int { panelCount(columns: columns) * width * depth }

    /// Packs the matrix whose element (k, n) is `source[n * columnStride + k * depthStride]` into
    /// `destination`, which must hold ``floatCount(depth:columns:)`` floats.
    ///
    /// A PyTorch `Linear` weight `[outFeatures, inFeatures]` is packed as B = Wᵀ with
    /// `columnStride: inFeatures, depthStride: 1`; a row-major `[K, N]` matrix with leading
    /// dimension `ld` with `columnStride: 1, depthStride: ld`.
    public init(
        packing source: UnsafePointer<Float>,
        depth: Int,
        columns: Int,
        columnStride: Int,
        depthStride: Int,
        into destination: UnsafeMutablePointer<Float>
    ) {
        let width = Self.width
        for panel in 0..<Self.panelCount(columns: columns) {
            let panelBase = destination + panel * width * depth
            let firstColumn = panel * width
            let valid = min(width, columns - firstColumn)
            if columnStride == 1 {
                for k in 0..<depth {
                    let row = source + k * depthStride + firstColumn
                    let out = panelBase + k * width
                    out.update(from: row, count: valid)
                    if valid < width { (out + valid).update(repeating: 0, count: width - valid) }
                }
            } else {
                // Columns are contiguous in the source (a weight row, a key vector): read each
                // one straight through and scatter it down the panel.
                for j in 0..<valid {
                    let column = source + (firstColumn + j) * columnStride
                    for k in 0..<depth {
                        panelBase[k * width + j] = column[k * depthStride]
                    }
                }
                if valid < width {
                    for k in 0..<depth { (panelBase + k * width + valid).update(repeating: 0, count: width - valid) }
                }
            }
        }
        self.init(base: destination, depth: depth, columns: columns)
    }

    /// Panels already packed at `base`.
    init(base: UnsafeMutablePointer<Float>, depth: Int, columns: Int) {
        self.base = base
        self.depth = depth
        self.columns = columns
    }
}

/// Packed weights that own their memory, for the lifetime of a loaded layer.
public final class PackedWeights: @unchecked Sendable {
    /// The packed panels.
    public let panels: PackedPanels

    /// Packs a PyTorch `Linear` weight `[outFeatures, inFeatures]` (B = Wᵀ).
    public convenience init(linearWeight weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int) {
        let base = UnsafeRawPointer(weight)
        self.init(rows: (0..<outFeatures).map { base + $0 * inFeatures * 4 }, inFeatures: inFeatures)
    }

    /// Packs a `Linear` weight given row by row: `rows[n]` points at the `inFeatures` float32
    /// weights of output n, not necessarily aligned (a tensor inside a received message), so the
    /// rows of several weights are packed side by side where they lie, without a copy.
    public init(rows: [UnsafeRawPointer], inFeatures: Int) {
        let width = PackedPanels.width
        let count = PackedPanels.floatCount(depth: inFeatures, columns: rows.count)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        // Only the last panel's lanes past the last column are padding: zero those, not the
        // whole buffer (a layer's weights are megabytes, and every byte else is written below).
        let valid = rows.count % width
        if valid != 0 {
            let last = memory + (rows.count / width) * width * inFeatures
            for k in 0..<inFeatures { (last + k * width + valid).update(repeating: 0, count: width - valid) }
        }
        for (n, row) in rows.enumerated() {
            // Column n of B goes down panel n / width, at lane n % width.
            let lane = memory + (n / width) * width * inFeatures + n % width
            for k in 0..<inFeatures { lane[k * width] = row.loadUnaligned(fromByteOffset: k * 4, as: Float.self) }
        }
        panels = PackedPanels(base: memory, depth: inFeatures, columns: rows.count)
    }

    deinit {
        UnsafeMutableRawPointer(panels.base).deallocate()
    }

    /// The bytes held.
    public var byteCount: Int { PackedPanels.floatCount(depth: panels.depth, columns: panels.columns) * 4 }
}
