/// How a layer's `Linear` weights are held once loaded.
public enum WeightLayout: Sendable {
    /// Packed into the kernels' panels at load: for weights used many times (a model loaded
    /// once and run for many passes).
    case packed
    /// float32 weights left where they lie (a streamed layer's received buffer) and multiplied
    /// in place, the activations packed instead: for weights used for a pass or two, where
    /// packing them would cost more than it saves. The results are the same bits as `packed`'s.
    /// Products of fewer rows than a panel (short inputs) pack the weights at first use.
    /// Weights of other dtypes are packed at load, float16 and bfloat16 widened inside the pack:
    /// they must be widened anyway, and packing them costs the thread that loads the layer a
    /// few core-ms more than widening them to rows would, where multiplying rows in place would
    /// cost the pass itself (MiniLM from float16 chunks, `scripts/bench` on a Zen 4 (AVX-512),
    /// plain release: 10.1 core-ms of packing per pass on the fetching side and the pass 1.09x
    /// the local one, against 4.4 core-ms of widening and 1.21x with rows in the run before). So
    /// are float32 ones not 4-byte aligned.
    case stored
}

/// A fully connected layer, y = x Wᵀ + b, as `torch.nn.Linear`.
public struct Linear: Sendable {
    /// The weight `[outFeatures, inFeatures]`, packed or as stored.
    let weight: Weight
    /// `[outFeatures]`.
    let bias: [Float]
    public let inFeatures: Int
    public let outFeatures: Int

    enum Weight {
        case packed(PackedWeights)
        case stored(StoredWeights)
        /// Packed by the chunker (a chunk set's `weight_layout` `panels32`).
        case prepacked(PrepackedWeights)
    }

    /// Loads `weight` `[outFeatures, inFeatures]` and `bias` `[outFeatures]` of `tensors`' view,
    /// for `kernels`, held as `weights` says.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(
        _ tensors: ComponentTensors, inFeatures: Int, outFeatures: Int, kernels: KernelSet,
        weights: WeightLayout = .packed
    ) throws {
        try self.init(
            concatenating: [tensors], inFeatures: inFeatures, outFeatures: outFeatures, kernels: kernels,
            weights: weights)
    }

    /// Several linear layers over the same input fused into one: the layers `layers` (views
    /// holding `weight` and `bias`), each with `outFeatures` outputs, side by side.
    ///
    /// float32, float16 and bfloat16 weights are packed straight from the stored bytes, aligned
    /// or not, narrow ones widened inside the pack; other dtypes (and weights of mixed dtypes)
    /// are widened one tensor at a time first, so loading never holds a second copy of the
    /// weights.
    ///
    /// - Throws: ``ModelError`` for a missing tensor or a shape that disagrees.
    init(
        concatenating layers: [ComponentTensors], inFeatures: Int, outFeatures: Int, kernels: KernelSet,
        weights layout: WeightLayout = .packed
    ) throws {
        let panels = PrepackedWeights.shape(outFeatures: outFeatures, inFeatures: inFeatures)
        let prepacked = layers.contains { $0.tensors[$0.scope + "weight"]?.shape.rank == panels.rank }
        let weights = try layers.map { try $0.tensor("weight", shape: prepacked ? panels : [outFeatures, inFeatures]) }
        bias = try layers.flatMap { try $0.floats("bias", shape: [outFeatures]) }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures * layers.count
        if prepacked {
            weight = .prepacked(
                try PrepackedWeights(
                    weights, outFeatures: outFeatures, inFeatures: inFeatures, kernels: kernels, views: layers))
            return
        }
        if layout == .stored, let stored = StoredWeights(weights, inFeatures: inFeatures, kernels: kernels) {
            weight = .stored(stored)
            return
        }
        weight = .packed(try Self.pack(weights[...], inFeatures: inFeatures, kernels: kernels))
    }

    /// `weights`' rows packed side by side for `kernels`.
    fileprivate static func pack(_ weights: ArraySlice<Tensor>, inFeatures: Int, kernels: KernelSet) throws
        -> PackedWeights
    {
        let stored = weights.first?.dtype ?? .float32
        let packed =
            weights.allSatisfy { $0.dtype == stored } && PackedWeights.packedDTypes[stored] != nil ? stored : nil
        return try Self.withRows(of: weights, width: inFeatures, stored: packed, after: []) { rows in
            PackedWeights(rows: rows, dtype: packed ?? .float32, inFeatures: inFeatures, for: kernels)
        }
    }

    /// Calls `body` with a pointer to every row of `weights`, in order: rows where they are
    /// stored when `stored` (their dtype) is given, else rows from a float32 copy alive for the
    /// call.
    private static func withRows<Result>(
        of weights: ArraySlice<Tensor>,
        width: Int,
        stored: DType?,
        after earlier: [UnsafeRawPointer],
        _ body: ([UnsafeRawPointer]) -> Result
    ) throws -> Result {
        guard let weight = weights.first else { return body(earlier) }
        let rest = weights.dropFirst()
        let rowBytes = width * (stored?.byteCount ?? MemoryLayout<Float>.size)
        let rows = 0..<(weight.elementCount / width)
        func next(_ bytes: UnsafeRawBufferPointer) throws -> Result {
            // swift-format-ignore: NeverForceUnwrap
            // A weight's shape was checked non-empty, so it has storage.
            let base = bytes.baseAddress!
            return try withRows(
                of: rest, width: width, stored: stored, after: earlier + rows.map { base + $0 * rowBytes }, body)
        }
        if stored != nil { return try weight.withUnsafeBytes(next) }
        return try weight.floatValues().withUnsafeBytes(next)
    }

    /// output `[rows, outFeatures]` = input `[rows, inFeatures]` Wᵀ + b, then `epilogue`.
    func forward(
        _ input: UnsafePointer<Float>,
        rows: Int,
        into output: UnsafeMutablePointer<Float>,
        epilogue: Matmul.Epilogue = .none,
        threads: ComputeThreads
    ) {
        bias.withUnsafeBufferPointer { bias in
            switch weight {
            case .stored(let stored) where rows >= stored.kernels.panelWidth:
                Matmul.multiply(
                    input, aStride: inFeatures, rows: rows, byStored: stored, bias: bias.baseAddress,
                    epilogue: epilogue, into: output, cStride: outFeatures, threads: threads)
            case .stored(let stored):
                Matmul.multiply(
                    input, aStride: inFeatures, rows: rows, by: stored.packed.panels, bias: bias.baseAddress,
                    epilogue: epilogue, into: output, cStride: outFeatures, threads: threads)
            case .packed(let packed):
                Matmul.multiply(
                    input, aStride: inFeatures, rows: rows, by: packed.panels, bias: bias.baseAddress,
                    epilogue: epilogue, into: output, cStride: outFeatures, threads: threads)
            case .prepacked(let prepacked):
                var column = 0
                for panels in prepacked.segments {
                    Matmul.multiply(
                        input, aStride: inFeatures, rows: rows, by: panels, bias: bias.baseAddress.map { $0 + column },
                        epilogue: epilogue, into: output + column, cStride: outFeatures, threads: threads)
                    column += panels.columns
                }
            }
        }
    }

    /// The bytes the weights (packed or as stored) and bias hold.
    var byteCount: Int {
        switch weight {
        case .packed(let packed): packed.byteCount + bias.count * 4
        case .stored(let stored): stored.byteCount + bias.count * 4
        case .prepacked(let prepacked): prepacked.byteCount + bias.count * 4
        }
    }
}

/// float32 `Linear` weights used where they lie: runs of rows (one per fused weight), each
/// `inFeatures` floats apart, kept alive by their tensors (``WeightLayout/stored``).
public final class StoredWeights: @unchecked Sendable {
    /// Each weight's first row and row count, in output order.
    public let segments: [(base: UnsafePointer<Float>, rows: Int)]
    public let inFeatures: Int
    public let kernels: KernelSet
    private let tensors: [Tensor]
    /// The weights packed, made the first time a product of few rows needs them.
    private let packedOnce = Locked<PackedWeights?>(nil)

    /// `weights` (each `[rows, inFeatures]`) side by side, or `nil` when they cannot be used so.
    ///
    /// `nil` for weights other than float32, float32 not 4-byte aligned (the multiply loads whole
    /// floats), or in a Swift array's memory, which has no fixed address.
    public init?(_ weights: [Tensor], inFeatures: Int, kernels: KernelSet) {
        var segments: [(base: UnsafePointer<Float>, rows: Int)] = []
        for weight in weights {
            guard weight.dtype == .float32, let base = weight.storageAddress,
                Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0
            else { return nil }
            segments.append((base.assumingMemoryBound(to: Float.self), weight.elementCount / inFeatures))
        }
        self.segments = segments
        self.inFeatures = inFeatures
        self.kernels = kernels
        tensors = weights
    }

    /// The weights packed (at the first call).
    public var packed: PackedWeights {
        packedOnce.withLock { packed in
            if let packed { return packed }
            // swift-format-ignore: NeverUseForceTry
            // The tensors were checked float32 and whole when this was made.
            let made = try! Linear.pack(tensors[...], inFeatures: inFeatures, kernels: kernels)
            packed = made
            return made
        }
    }

    /// The bytes of the weights as stored.
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }
}

/// `Linear` weights the chunker packed (`weight_layout` `panels32`, docs/FORMAT.md).
///
/// Each is `[ceil(outFeatures / 32), inFeatures, 32]`, panels of 32 output features, multiplied
/// where it lies (a received buffer, a mapped file) by the packed weights' micro-kernel, so a
/// streamed layer costs its pass what a loaded one does. float16 panels are widened when they
/// load, a sequential pass (F16C, NEON) instead of the transposing pack of PyTorch's layout:
/// widening them in the micro-kernel instead cost the pass 6-10% (its converts compete with the
/// multiply-adds), more than the widening costs the fetching side (MiniLM, cache 2, prefetch 1,
/// `streaming-weights-bench streaming-forward`, Zen 4 with AVX-512, alternated by hand: 1.06-1.10x
/// the local pass against 1.01-1.10x). One segment per fused weight.
public final class PrepackedWeights: @unchecked Sendable {
    /// Each weight's panels, in output order.
    public let segments: [PackedPanels]
    /// What holds the panels: the tensors multiplied where they lie, and the copies (aligned or
    /// widened) of the others, whose tensors are let go (a received buffer goes back to the pool).
    private let tensors: [Tensor]
    private let copies: [BufferPool.Memory]
    /// The bytes of the panels as held (widened ones count their float32 size).
    public let byteCount: Int

    /// The shape of a `[outFeatures, inFeatures]` weight pre-packed.
    static func shape(outFeatures: Int, inFeatures: Int) -> Shape {
        let width = PackedPanels.chunkPanelWidth
        return [(outFeatures + width - 1) / width, inFeatures, width]
    }

    /// - Throws: ``ModelError/unsupportedDType(component:name:dtype:)`` for panels neither
    ///   float32 nor float16 (what the chunker writes).
    init(
        _ weights: [Tensor], outFeatures: Int, inFeatures: Int, kernels: KernelSet, views: [ComponentTensors]
    ) throws {
        var segments: [PackedPanels] = []
        var copies: [BufferPool.Memory] = []
        var kept: [Tensor] = []
        var byteCount = 0
        for (weight, view) in zip(weights, views) {
            guard weight.dtype == .float32 || weight.dtype == .float16 else {
                throw ModelError.unsupportedDType(
                    component: view.component.name, name: view.scope + "weight (pre-packed panels)",
                    dtype: weight.dtype)
            }
            let base: UnsafeMutablePointer<Float>
            if weight.dtype == .float16 {
                let widened = BufferPool.shared.take(weight.elementCount * 4)
                let floats = widened.base.bindMemory(to: Float.self, capacity: weight.elementCount)
                weight.withUnsafeBytes { bytes in
                    FloatConversion.convert(
                        bytes, from: .float16,
                        toFloat32: UnsafeMutableBufferPointer(start: floats, count: weight.elementCount))
                }
                copies.append(widened)
                byteCount += weight.elementCount * 4
                base = floats
            } else if let address = weight.storageAddress, Int(bitPattern: address) % 4 == 0 {
                byteCount += weight.byteCount
                kept.append(weight)
                base = UnsafeMutablePointer(mutating: address.assumingMemoryBound(to: Float.self))
            } else {
                let copy = BufferPool.shared.take(weight.byteCount)
                weight.withUnsafeBytes { bytes in
                    if let from = bytes.baseAddress { copy.base.copyMemory(from: from, byteCount: bytes.count) }
                }
                copies.append(copy)
                byteCount += weight.byteCount
                base = copy.base.bindMemory(to: Float.self, capacity: weight.elementCount)
            }
            segments.append(
                PackedPanels(
                    kernels: kernels, base: base, depth: inFeatures, columns: outFeatures,
                    packedWidth: PackedPanels.chunkPanelWidth))
        }
        self.segments = segments
        self.copies = copies
        self.byteCount = byteCount
        tensors = kept
    }
}
