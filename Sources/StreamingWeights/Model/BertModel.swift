/// A BERT encoder run on the CPU in float32, its encoder layers from a ``LayerProvider``.
///
/// Follows transformers' `BertModel` (`modeling_bert.py`) in eval mode: embeddings, the encoder
/// layers, and the pooler when the model has one. Loaded with ``init(loadingFrom:kernels:)`` it
/// holds every layer (``ResidentLayers``); the streamed model is the same type over layers
/// fetched as the pass reaches them, so both run exactly the same code (``BertForwardPass``).
public struct BertModel: Sendable {
    public let configuration: BertConfiguration
    public let embeddings: BertEmbeddings
    public let layers: any LayerProvider
    public let pooler: BertPooler?
    /// A sequence-classification head (a cross-encoder's), when the model has one.
    public let head: SequenceClassificationHead?
    /// MPNet's relative position bias, which every layer adds to its attention scores.
    public let positionBias: RelativePositionBias?
    /// The kernels the model computes with.
    public let kernels: KernelSet

    /// A model of these parts.
    public init(
        configuration: BertConfiguration, embeddings: BertEmbeddings, positionBias: RelativePositionBias? = nil,
        layers: any LayerProvider, pooler: BertPooler?, head: SequenceClassificationHead? = nil, kernels: KernelSet
    ) {
        self.configuration = configuration
        self.head = head
        self.embeddings = embeddings
        self.positionBias = positionBias
        self.layers = layers
        self.pooler = pooler
        self.kernels = kernels
    }

    /// Loads every component from `source` and keeps every layer in memory, packed for
    /// `kernels` (by default ``KernelSet/selected(environment:)``: `STREAMING_WEIGHTS_KERNELS`,
    /// else the CPU's fastest).
    ///
    /// - Throws: ``KernelSetError`` for a kernel set the CPU cannot run, ``ModelError`` naming
    ///   the component and tensor that is missing or malformed, or the source's own error.
    public init(loadingFrom source: some TensorSource, kernels: KernelSet? = nil) async throws {
        let kernels = try kernels ?? KernelSet.selected()
        let configuration = try await source.configuration()
        let embeddings = try BertEmbeddings(
            try await source.tensors(of: .embeddings), configuration: configuration, kernels: kernels)
        let positionBias =
            configuration.relativeAttentionBuckets == nil
            ? nil : try RelativePositionBias(try await source.tensors(of: .shared), configuration: configuration)
        var layers: [BertLayer] = []
        for index in 0..<configuration.layerCount {
            layers.append(
                try BertLayer(
                    try await source.tensors(of: .layer(index)), configuration: configuration, kernels: kernels))
        }
        let pooler =
            try await source.contains(.pooler)
            ? try BertPooler(try await source.tensors(of: .pooler), configuration: configuration, kernels: kernels)
            : nil
        let head =
            try await source.contains(.head)
            ? try SequenceClassificationHead(
                try await source.tensors(of: .head), configuration: configuration, hasPooler: pooler != nil,
                kernels: kernels)
            : nil
        self.init(
            configuration: configuration, embeddings: embeddings, positionBias: positionBias,
            layers: ResidentLayers(layers), pooler: pooler, head: head, kernels: kernels)
    }

    /// Runs the model on `batch`, asking ``layers`` for each layer in turn.
    ///
    /// - Throws: ``ModelError`` for an empty batch, an id outside the vocabulary, a sequence
    ///   longer than the position embeddings, or NaN or infinite values in a component's output;
    ///   what the layer provider throws.
    public func forward(_ batch: EncodedBatch, threads: ComputeThreads = ComputeThreads()) async throws
        -> BertModelOutput
    {
        let pass = try BertForwardPass(
            batch: batch, configuration: configuration, positionBias: positionBias, threads: threads, kernels: kernels)
        try pass.embed(embeddings)
        for index in 0..<configuration.layerCount {
            try pass.apply(try await layers.layer(index))
        }
        return try pass.finish(pooler: pooler, head: head)
    }
}

/// The state of one forward pass: the batch, the hidden states and the workspace.
///
/// Split into steps, one per component. Each step checks that its output is finite: a NaN
/// or an infinity would otherwise flow silently into every embedding, and the component where
/// it first appears is what a user needs to know.
public final class BertForwardPass {
    let batch: EncodedBatch
    let configuration: BertConfiguration
    let threads: ComputeThreads
    /// Checks each component's output for NaN and infinities.
    let kernels: KernelSet
    let workspace: BertWorkspace
    /// `[rows, hiddenSize]`.
    private var hidden: [Float]
    /// Encoder layers run so far: the next one's index.
    private var layersApplied = 0

    /// Checks `batch` against `configuration` and allocates the activations.
    ///
    /// - Throws: ``ModelError`` for an empty batch, an id or token type out of range, or a
    ///   sequence longer than the model's positions.
    public init(
        batch: EncodedBatch, configuration: BertConfiguration, positionBias: RelativePositionBias? = nil,
        threads: ComputeThreads, kernels: KernelSet
    ) throws {
        guard batch.batchSize > 0 else { throw ModelError.emptyBatch }
        guard batch.sequenceLength <= configuration.maximumSequenceLength else {
            throw ModelError.sequenceTooLong(length: batch.sequenceLength, maximum: configuration.maximumSequenceLength)
        }
        if let id = batch.inputIDs.first(where: { $0 < 0 || Int($0) >= configuration.vocabularySize }) {
            throw ModelError.idOutOfRange(kind: "token id", id: id, limit: configuration.vocabularySize)
        }
        if configuration.typeVocabularySize > 0,
            let id = batch.tokenTypeIDs.first(where: { $0 < 0 || Int($0) >= configuration.typeVocabularySize })
        {
            throw ModelError.idOutOfRange(kind: "token type id", id: id, limit: configuration.typeVocabularySize)
        }
        self.batch = batch
        self.configuration = configuration
        self.threads = threads
        self.kernels = kernels
        workspace = BertWorkspace(
            batch: batch, configuration: configuration,
            positionBias: positionBias?.distanceValues(length: batch.sequenceLength)
        )
        hidden = [Float](repeating: 0, count: workspace.rows * configuration.hiddenSize)
    }

    /// Embeds the batch.
    ///
    /// - Throws: ``ModelError/nonFiniteOutput(component:)`` when an embedding is NaN or infinite.
    public func embed(_ embeddings: BertEmbeddings) throws {
        hidden.withUnsafeMutableBufferPointer { hidden in
            // swift-format-ignore: NeverForceUnwrap
            // The batch is non-empty (checked in init), so the buffer is too.
            embeddings.forward(batch, into: hidden.baseAddress!)
        }
        try checkFinite(hidden, after: ModelComponent.embeddings.name)
        layersApplied = 0
    }

    /// Runs the next encoder layer.
    ///
    /// - Throws: ``ModelError/nonFiniteOutput(component:)`` when its output is NaN or infinite.
    public func apply(_ layer: BertLayer) throws {
        hidden.withUnsafeMutableBufferPointer { hidden in
            // swift-format-ignore: NeverForceUnwrap
            // The batch is non-empty (checked in init), so the buffer is too.
            layer.forward(hidden.baseAddress!, workspace: workspace, threads: threads)
        }
        try checkFinite(hidden, after: ModelComponent.layer(layersApplied).name)
        layersApplied += 1
    }

    /// The outputs, pooled by `pooler` and scored by `head` when there are.
    ///
    /// - Throws: ``ModelError/nonFiniteOutput(component:)`` when the pooler's output or the
    ///   logits are NaN or infinite.
    public func finish(pooler: BertPooler?, head: SequenceClassificationHead? = nil) throws -> BertModelOutput {
        let pooled = pooler.map { pooler in
            hidden.withUnsafeBufferPointer { hidden in
                // swift-format-ignore: NeverForceUnwrap
                // The batch is non-empty (checked in init), so the buffer is too.
                pooler.forward(hidden.baseAddress!, batchSize: batch.batchSize, sequenceLength: batch.sequenceLength)
            }
        }
        if let pooled { try checkFinite(pooled, after: ModelComponent.pooler.name) }
        let logits = head.map { head in
            hidden.withUnsafeBufferPointer { hidden in
                // swift-format-ignore: NeverForceUnwrap
                // The batch is non-empty (checked in init), so the buffer is too.
                head.forward(
                    hidden.baseAddress!, pooled: pooled, batchSize: batch.batchSize,
                    sequenceLength: batch.sequenceLength)
            }
        }
        if let logits { try checkFinite(logits, after: ModelComponent.head.name) }
        return BertModelOutput(
            batchSize: batch.batchSize,
            sequenceLength: batch.sequenceLength,
            hiddenSize: configuration.hiddenSize,
            lastHiddenState: hidden,
            poolerOutput: pooled,
            logits: logits
        )
    }

    /// Throws when `values`, the output of `component`, holds a NaN or an infinity.
    private func checkFinite(_ values: [Float], after component: String) throws {
        guard values.withUnsafeBufferPointer(kernels.allFinite) else {
            throw ModelError.nonFiniteOutput(component: component)
        }
    }
}
