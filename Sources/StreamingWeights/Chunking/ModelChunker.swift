import Foundation
import Logging

/// Splits a BERT model into per-component safetensors chunks plus a manifest.
///
/// For each component — the embeddings, each encoder layer, the pooler — the chunker writes one
/// safetensors file (gzip-compressed with `compress`), with the tensors named relative to the
/// component and optionally converted to another floating dtype, streaming it through SHA-256
/// on its way to storage. It copies `config.json` and the tokenizer files, and writes
/// `chunk_info.json` last. Any previous manifest is removed first, so a run that stops part way
/// never leaves a chunk set that looks complete; each file appears only when whole. Memory-mapped
/// weights are released after each component, so resident memory stays near the largest chunk.
///
/// The output must be empty, hold a chunk set of the same model (or the files of an interrupted
/// run), or ``overwrite`` must be set: a chunk set is never mixed with another model's files.
/// Once the new manifest is written, every file there that it does not list is removed.
public struct ModelChunker: Sendable {
    /// Progress of a run, for a progress bar.
    public struct Progress: Sendable {
        /// The file just written.
        public let file: String
        /// How many of the chunk set's files are written.
        public let completed: Int
        public let total: Int
        /// Bytes written so far, as stored.
        public let bytesWritten: Int
    }

    /// The model name or directory, resolved by ``ModelSource``.
    public let modelName: String
    public let storage: any StorageBackend
    public let compress: Bool
    /// The floating dtype to store weights as; `nil` keeps the source's.
    public let dtype: DType?
    /// How the layers' `Linear` weights are stored.
    public let weightLayout: ChunkWeightLayout
    public let offline: Bool
    /// Write into an output that holds other files, removing those the new chunk set does not list.
    public let overwrite: Bool
    /// Where `HF_ENDPOINT`, `HF_HUB_CACHE`, `STREAMING_WEIGHTS_MODELS` and the like are read.
    public let environment: [String: String]
    let logger: Logger

    /// A chunker that writes to `storage`.
    ///
    /// The library never prints: pass a `logger` to see each step (the default discards them).
    /// - Throws: ``ChunkingError/unsupportedDType(_:)`` for a `dtype` other than F32, F16, BF16,
    ///   ``ChunkingError/unsupportedLayoutDType(layout:dtype:model:)`` for BF16 with
    ///   ``ChunkWeightLayout/panels32``.
    public init(
        modelName: String,
        storage: any StorageBackend,
        compress: Bool = false,
        dtype: DType? = nil,
        weightLayout: ChunkWeightLayout = .pytorch,
        offline: Bool = false,
        overwrite: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "streaming-weights.chunker") { _ in SwiftLogNoOpLogHandler() }
    ) throws {
        if let dtype, ![.float32, .float16, .bfloat16].contains(dtype) {
            throw ChunkingError.unsupportedDType(dtype.pythonName)
        }
        if let dtype, !weightLayout.holds(dtype) {
            throw ChunkingError.unsupportedLayoutDType(
                layout: weightLayout.rawValue, dtype: dtype.pythonName, model: nil)
        }
        self.modelName = modelName
        self.storage = storage
        self.compress = compress
        self.dtype = dtype
        self.weightLayout = weightLayout
        self.offline = offline
        self.overwrite = overwrite
        self.environment = environment
        self.logger = logger
    }

    /// A chunker that writes to a local directory, created if needed (the Python tool's signature).
    public init(
        modelName: String, outputDirectory: String, compress: Bool = false, dtype: DType? = nil,
        weightLayout: ChunkWeightLayout = .pytorch
    ) throws {
        try self.init(
            modelName: modelName,
            storage: try FileSystemBackend(root: outputDirectory, create: true),
            compress: compress,
            dtype: dtype,
            weightLayout: weightLayout
        )
    }

    /// Resolves the model and writes its chunk set.
    ///
    /// - Returns: the manifest written.
    /// - Throws: ``ChunkingError``, ``CheckpointError``, ``ModelError`` or a storage error, each
    ///   naming the model, file or tensor involved.
    public func chunkModel(
        progress: (@Sendable (Progress) -> Void)? = nil,
        downloadProgress: (@Sendable (String, Int64, Int64?) -> Void)? = nil
    ) async throws -> ChunkManifest {
        let source = try await ModelSource.resolve(
            modelName,
            offline: offline,
            environment: environment,
            progress: downloadProgress
        )
        logger.info("chunking \(modelName) from \(source.directory)")
        return try await chunk(directory: source.directory, name: source.modelName, progress: progress)
    }

    /// Writes the chunk set of the model in `directory`, named `name` in the manifest.
    func chunk(directory: String, name: String, progress: (@Sendable (Progress) -> Void)?) async throws
        -> ChunkManifest
    {
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let configuration = try BertConfiguration(contentsOfFile: path("config.json"))
        let checkpoint = try Checkpoint(directory: directory)
        for name in checkpoint.skippedNames {
            logger.info("skipping '\(name)': not part of the encoder")
        }
        let components = try plan(checkpoint: checkpoint, configuration: configuration)
        let extraFiles =
            ["config.json"]
            + (HubDownloader.tokenizerFiles + sentenceTransformerFiles(path)).filter {
                FileManager.default.fileExists(atPath: path($0))
            }
        let storedDType =
            dtype
            ?? components.lazy.flatMap { component, names in names.map { component.checkpointPrefix + $0 } }
            .compactMap { try? checkpoint.tensor(named: $0).dtype }.first { $0.isFloatingPoint }
        // Every weight the layout packs must be one it holds: refused before anything is touched.
        for (component, names) in components {
            for tensorName in names {
                let source = try checkpoint.tensor(named: component.checkpointPrefix + tensorName)
                let stored = dtype ?? source.dtype
                if source.dtype.isFloatingPoint, weightLayout.packs(tensorName, shape: source.shape, in: component),
                    !weightLayout.holds(stored)
                {
                    throw ChunkingError.unsupportedLayoutDType(
                        layout: weightLayout.rawValue, dtype: stored.pythonName, model: dtype == nil ? name : nil)
                }
            }
        }
        let previous = try await filesToReplace(modelName: name)
        try await storage.delete(ChunkManifest.fileName)

        let total = components.count + extraFiles.count
        var written = 0
        var completed = 0
        var chunks: [String: ChunkManifest.Chunk] = [:]
        // Components and files are independent: write as many at once as there are cores, so
        // hashing and writing one overlaps with the others; the largest (the embeddings) first.
        enum Job {
            case chunk(Int)
            case file(String)
        }
        enum Result: Sendable {
            case chunk(String, ChunkManifest.Chunk)
            case file(String, ChunkManifest.FileEntry)
        }
        var files: [String: ChunkManifest.FileEntry] = [:]
        let prepared = try components.map { component, names in
            PreparedChunk(
                component: component, file: component.name + (compress ? ".safetensors.gz" : ".safetensors"),
                sources: try names.map { ($0, try checkpoint.tensor(named: component.checkpointPrefix + $0)) })
        }
        // SHA-256 of the chunks two at a time on a thread of its own, where the CPU can, beside
        // the writers (which then hash only BLAKE3); each chunk's source pages are released when
        // both have read them. Only for chunks whose bytes are the source's as they lie: not
        // converted or packed (which the writers do one at a time, to bound memory) nor compressed.
        let pairedSHA256 = try PairedChunkHashes(
            chunks: prepared, enabled: !compress && dtype == nil && weightLayout == .pytorch)
        func pairedDigests() async throws -> [String]? {
            guard let pairedSHA256 else { return nil }
            return try await runBlocking { pairedSHA256.run() }
        }
        async let pairedSHA256Digests = pairedDigests()
        try await withThrowingTaskGroup(of: Result.self) { group in
            var pending = (prepared.indices.map { Job.chunk($0) } + extraFiles.map { Job.file($0) })[...]
            func startNext() throws {
                switch pending.popFirst() {
                case .chunk(let index)?:
                    let chunk = prepared[index]
                    group.addTask {
                        let stored = try await store(chunk, hashingSHA256: pairedSHA256 == nil)
                        if let pairedSHA256 { pairedSHA256.read(index) } else { chunk.releasePages() }
                        return .chunk(chunk.component.name, stored)
                    }
                case .file(let name)?:
                    let source = path(name)
                    group.addTask {
                        guard let data = FileManager.default.contents(atPath: source) else {
                            throw FileError(path: source, operation: "read", code: EIO)
                        }
                        try await storage.write(data, to: name)
                        return .file(name, data.withUnsafeBytes { ChunkManifest.FileEntry(describing: $0) })
                    }
                case nil:
                    return
                }
            }
            for _ in 0..<max(1, System.coreCount) { try startNext() }
            while let result = try await group.next() {
                let file: String
                switch result {
                case .chunk(let name, let chunk):
                    chunks[name] = chunk
                    written += chunk.size
                    file = chunk.file
                    logger.info("wrote \(chunk.file) (\(chunk.size) bytes)")
                case .file(let name, let entry):
                    files[name] = entry
                    file = name
                    logger.info("wrote \(name) (\(entry.size) bytes)")
                }
                completed += 1
                progress?(Progress(file: file, completed: completed, total: total, bytesWritten: written))
                try startNext()
            }
        }
        if let digests = try await pairedSHA256Digests {
            for (chunk, digest) in zip(prepared, digests) { chunks[chunk.component.name]?.sha256 = digest }
        }
        let manifest = ChunkManifest(
            modelName: name,
            modelType: configuration.modelType,
            numLayers: configuration.layerCount,
            dtype: (storedDType ?? .float32).pythonName,
            compression: compress ? "gzip" : "none",
            weightLayout: weightLayout,
            chunks: chunks,
            files: files
        )
        try await storage.write(try manifest.encoded(), to: ChunkManifest.fileName)
        let listed = Set([ChunkManifest.fileName] + manifest.chunks.values.map(\.file) + manifest.files.keys)
        for stale in previous where !listed.contains(stale) {
            logger.info("removing \(stale): the new chunk set does not list it")
            try await storage.delete(stale)
        }
        return manifest
    }

    /// The files already in the output, once it is clear they may be replaced: the output is
    /// empty, holds a chunk set of `modelName` or only the files an interrupted run leaves
    /// (no manifest), or ``overwrite`` is set.
    ///
    /// - Throws: ``ChunkingError/outputNotEmpty(location:files:holds:)`` otherwise.
    /// The sentence-transformers files a model directory has (`path` turns a name into its
    /// path): `modules.json` and the configuration files it names (`sentence_bert_config.json`
    /// among them), carried into the chunk set so
    /// that a streamed model pools as its authors meant. Which modules can run is for the
    /// reader to say (``SentenceEmbeddingSettings``).
    private func sentenceTransformerFiles(_ path: (String) -> String) -> [String] {
        let modules = SentenceEmbeddingSettings.modulesFile
        guard let bytes = FileManager.default.contents(atPath: path(modules)) else { return [] }
        let named = (try? SentenceEmbeddingSettings.configurationFiles(modules: Array(bytes), location: "")) ?? []
        return [modules] + named
    }

    private func filesToReplace(modelName: String) async throws -> [String] {
        let existing = try await storage.list(prefix: "")
        guard !existing.isEmpty, !overwrite else { return existing }
        let holds: String
        if existing.contains(ChunkManifest.fileName) {
            let json = try await storage.read(ChunkManifest.fileName).withUnsafeBytes { Array($0) }
            if let previous = try? ChunkManifest(json: json, source: ChunkManifest.fileName) {
                if previous.modelName == modelName { return existing }
                holds = "a chunk set of \(previous.modelName)"
            } else {
                holds = "a chunk_info.json this chunker cannot read"
            }
        } else {
            let unknown = existing.filter { !Self.isChunkSetFile($0) }
            if unknown.isEmpty { return existing }
            holds = "files that are not part of a chunk set"
        }
        throw ChunkingError.outputNotEmpty(location: storage.location, files: existing, holds: holds)
    }

    /// Whether `name` is a file a chunk set of this chunker holds.
    static func isChunkSetFile(_ name: String) -> Bool {
        if name == ChunkManifest.fileName || name == "config.json" || HubDownloader.tokenizerFiles.contains(name)
            || HubDownloader.isSentenceTransformerFile(name)
        {
            return true
        }
        let stem =
            name.hasSuffix(".safetensors.gz")
            ? name.dropLast(".safetensors.gz".count)
            : name.hasSuffix(".safetensors") ? name.dropLast(".safetensors".count) : nil
        guard let stem else { return false }
        if ["embeddings", "pooler", "shared", "head"].contains(stem) { return true }
        return stem.hasPrefix("layer_") && Int(stem.dropFirst("layer_".count)) != nil
    }

    /// The components and their tensor names (relative), after checking that every tensor a
    /// BERT encoder needs is present.
    private func plan(checkpoint: Checkpoint, configuration: BertConfiguration) throws -> [(ModelComponent, [String])] {
        var components: [ModelComponent] = [.embeddings] + (0..<configuration.layerCount).map { .layer($0) }
        let required: [ModelComponent: [String]] = [
            .embeddings: ["word_embeddings.weight", "position_embeddings.weight", "LayerNorm.weight", "LayerNorm.bias"]
                + (configuration.typeVocabularySize > 0 ? ["token_type_embeddings.weight"] : []),
            .layer(0): configuration.layerTensorNames.required,
        ]
        if configuration.relativeAttentionBuckets != nil { components.insert(.shared, at: 1) }
        if checkpoint.tensorNames.contains(where: { $0.hasPrefix("pooler.") }) { components.append(.pooler) }
        if checkpoint.tensorNames.contains(where: { $0.hasPrefix("head.") }) { components.append(.head) }
        var plan: [(ModelComponent, [String])] = []
        var claimed = Set<String>()
        for component in components {
            let prefix = component.checkpointPrefix
            let names = checkpoint.tensorNames.filter { $0.hasPrefix(prefix) }.map {
                String($0.dropFirst(prefix.count))
            }
            let needed: [String]
            switch component {
            case .embeddings: needed = required[.embeddings] ?? []
            case .layer: needed = required[.layer(0)] ?? []
            case .pooler: needed = ["dense.weight", "dense.bias"]
            case .shared: needed = [RelativePositionBias.tensorName]
            case .head: needed = SequenceClassificationHead.requiredTensors(for: configuration)
            }
            for name in needed where !names.contains(name) {
                throw ChunkingError.incompleteModel(
                    "'\(checkpoint.weightsFile)' has no tensor '\(prefix + name)', which \(component.name) needs"
                )
            }
            for name in names { claimed.insert(prefix + name) }
            plan.append((component, names))
        }
        for name in checkpoint.tensorNames where !claimed.contains(name) {
            throw ChunkingError.incompleteModel(
                "tensor '\(name)' belongs to no component of a \(configuration.layerCount)-layer model (check num_hidden_layers)"
            )
        }
        return plan
    }

    /// One component's chunk to write: its name, file and the checkpoint's tensors (views into
    /// the mapped checkpoint until laid out).
    struct PreparedChunk: @unchecked Sendable {
        let component: ModelComponent
        let file: String
        /// Tensor names within the component, and the checkpoint's tensors.
        let sources: [(String, Tensor)]

        /// The chunk as a safetensors file, its floating tensors converted to `dtype` when one
        /// is given, and `Linear` weights packed as `layout` says (copies in memory).
        func laidOut(converting dtype: DType?, layout: ChunkWeightLayout = .pytorch) throws -> (
            SafetensorsWriter, [String: ChunkManifest.TensorEntry]
        ) {
            var safetensors = SafetensorsWriter()
            var entries: [String: ChunkManifest.TensorEntry] = [:]
            for (name, source) in sources {
                // Floating tensors end as `dtype`, or as the source's; packing gives float32.
                var tensor = source
                if source.dtype.isFloatingPoint && layout.packs(name, shape: source.shape, in: component) {
                    tensor = try source.packedInPanels(width: PackedPanels.chunkPanelWidth)
                }
                if source.dtype.isFloatingPoint, tensor.dtype != dtype ?? source.dtype {
                    tensor = try tensor.converted(to: dtype ?? source.dtype)
                }
                try safetensors.add(tensor, named: name)
                entries[name] = ChunkManifest.TensorEntry(dtype: tensor.dtype.rawValue, shape: tensor.shape.dimensions)
            }
            return (safetensors, entries)
        }

        /// Lets the system drop the source pages read (they are read again if touched).
        func releasePages() {
            for (_, tensor) in sources { tensor.releasePages() }
        }
    }

    /// Writes one chunk, hashing the bytes as stored: BLAKE3, and SHA-256 too unless
    /// `hashingSHA256` is false (its SHA-256 is then left empty, for ``PairedChunkHashes``).
    private func store(_ chunk: PreparedChunk, hashingSHA256: Bool) async throws -> ChunkManifest.Chunk {
        let (safetensors, entries) = try chunk.laidOut(converting: dtype, layout: weightLayout)
        // An uncommitted writer removes its temporary file when dropped. The block Dispatch runs
        // outlives the await by a moment, so it must not hold the writer: the closure takes the
        // only reference from the slot and drops it before returning, and a failed run has left
        // no temporary file behind by the time its error is seen.
        let slot = UnsafeSendable(WriterSlot(writer: try await storage.writer(for: chunk.file)))
        let (compress, contents) = (self.compress, UnsafeSendable(safetensors))
        // Compressing, hashing and the writer's blocking I/O (an S3 upload), off Swift's
        // cooperative threads.
        let (size, sha256, blake3) = try await runBlocking { () throws -> (Int, String, String) in
            guard let writer = slot.value.writer.take() else { preconditionFailure("the writer is used once") }
            let sha256 = hashingSHA256 ? StreamingDigest(.sha256) : nil
            let blake3 = StreamingDigest(.blake3)
            var size = 0
            func store(_ bytes: UnsafeRawBufferPointer) throws {
                sha256?.update(bytes)
                blake3.update(bytes)
                size += bytes.count
                try writer.write(bytes)
            }
            if compress {
                let compressor = try GzipCompressor()
                try contents.value.write { try compressor.compress($0, into: store) }
                try compressor.finish(into: store)
            } else {
                try contents.value.write(to: store)
            }
            try writer.commit()
            return (size, sha256?.finalize().hexString ?? "", blake3.finalize().hexString)
        }
        return ChunkManifest.Chunk(
            file: chunk.file,
            size: size,
            sha256: sha256,
            blake3: blake3,
            sizeMB: Double(size) / 1_048_576,
            tensors: entries
        )
    }
}

/// The SHA-256 of every chunk as stored, computed apart from writing them.
///
/// On a thread of its own, two chunks at a time (``PairedSHA256``), from the same bytes the
/// writers read, while they hash BLAKE3: the chunker's costliest step at half its core time,
/// shared with the writers over the cores.
///
/// Only for chunks stored as their source's bytes (neither converted nor compressed) on a CPU
/// that pairs messages; each chunk's source pages are released once both this thread and its
/// writer have read them.
private final class PairedChunkHashes: @unchecked Sendable {
    private let chunks: [ModelChunker.PreparedChunk]
    /// The chunks' headers, at fixed addresses for `messages`.
    private let headers: [ByteStorage]
    private let messages: [[UnsafeRawBufferPointer]]
    /// Per chunk, the readers (this thread and the writer) that have not finished with it.
    private let readers: Locked<[Int]>

    /// - Parameter enabled: whether the chunks are written as their source's bytes (not
    ///   converted, not compressed); `nil` when not, or where the CPU does not pair messages.
    init?(chunks: [ModelChunker.PreparedChunk], enabled: Bool) throws {
        guard enabled, PairedSHA256.pairs else { return nil }
        let files = try chunks.map { try $0.laidOut(converting: nil).0 }
        let headers = files.map { ByteStorage($0.headerBytes()) }
        var messages: [[UnsafeRawBufferPointer]] = []
        for (file, header) in zip(files, headers) {
            let bytes = UnsafeRawBufferPointer(start: header.baseAddress, count: header.count)
            guard let pieces = file.pieces(header: bytes) else { return nil }
            messages.append(pieces)
        }
        self.chunks = chunks
        self.headers = headers
        self.messages = messages
        readers = Locked(Array(repeating: 2, count: chunks.count))
    }

    /// The chunks' SHA-256s (lower-case hex), in order; blocks while it hashes.
    func run() -> [String] {
        let digests = PairedSHA256.digests(of: messages) { read($0) }
        return withExtendedLifetime(headers) { digests.map(\.hexString) }
    }

    /// A reader has finished with chunk `index`: the second releases its source pages.
    func read(_ index: Int) {
        let last = readers.withLock { readers in
            readers[index] -= 1
            return readers[index] == 0
        }
        if last { chunks[index].releasePages() }
    }
}

/// Holds a writer until the blocking work that uses it takes it.
private final class WriterSlot {
    var writer: (any StorageWriter)?

    init(writer: any StorageWriter) {
        self.writer = writer
    }
}
