/// How a chunk set stores its layers' `Linear` weights: the manifest's `weight_layout`
/// (docs/FORMAT.md).
public enum ChunkWeightLayout: String, Sendable, CaseIterable {
    /// `[outFeatures, inFeatures]`, as PyTorch and every safetensors reader hold them; a streamed
    /// layer is multiplied as stored, its activations packed per product. The default, written
    /// without a `weight_layout` key.
    case pytorch
    /// Pre-packed in panels of 32 output features, `[ceil(outFeatures / 32), inFeatures, 32]`
    /// (panel p holds, for each k, the weights of outputs 32p ..< 32p + 32, the last panel
    /// padded with zeros): what our kernels multiply where it lies, so a streamed layer costs
    /// its pass what a loaded one does. float32 or float16 (widened when the layer loads).
    /// Still safetensors, in another shape.
    case panels32

    /// Whether the layout can store weights of `dtype`.
    func holds(_ dtype: DType) -> Bool {
        self == .pytorch || dtype == .float32 || dtype == .float16
    }

    /// The manifest's `weight_layout` value (`nil` for ``pytorch``, written without the key).
    var manifestValue: String? { self == .pytorch ? nil : rawValue }

    /// Whether this layout packs `name` (relative to its component) of `component`: the 2-D
    /// `Linear` weights of the encoder layers.
    func packs(_ name: String, shape: Shape, in component: ModelComponent) -> Bool {
        guard self == .panels32, case .layer = component else { return false }
        return shape.rank == 2 && name.hasSuffix("weight")
    }
}

extension Tensor {
    /// This `[rows, depth]` floating-point matrix as float32 panels of `width` rows:
    /// `[ceil(rows / width), depth, width]`, element (p, k, lane) = self[p·width + lane, k], lanes
    /// past the last row 0 (``ChunkWeightLayout/panels32``).
    ///
    /// - Precondition: the tensor is a matrix.
    /// - Throws: ``TensorError`` when it is not floating point.
    func packedInPanels(width: Int) throws -> Tensor {
        precondition(shape.rank == 2, "panels are packed from a matrix")
        let (rows, depth) = (shape.dimensions[0], shape.dimensions[1])
        let panels = (rows + width - 1) / width
        let values = try floatValues()
        let count = panels * depth * width
        // Straight into the new tensor's storage (zeroed first: the padding lanes).
        let storage = ByteStorage(count: count * 4) { bytes in
            let out = bytes.bindMemory(to: Float.self)
            out.initialize(repeating: 0)
            values.withUnsafeBufferPointer { source in
                for row in 0..<rows {
                    let (panel, lane) = row.quotientAndRemainder(dividingBy: width)
                    let panelBase = panel * depth * width + lane
                    let rowBase = row * depth
                    for k in 0..<depth { out[panelBase + k * width] = source[rowBase + k] }
                }
            }
        }
        return try Tensor(dtype: .float32, shape: [panels, depth, width], storage: storage, byteRange: 0..<count * 4)
    }
}
