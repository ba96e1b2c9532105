import Foundation
import Logging

/// The weights of a chunk set somewhere else, through a ``ChunkTransport``: the manifest first,
/// then each object on demand, every one checked against the manifest's size and digest
/// (BLAKE3 when the manifest has it, else SHA-256) before it is used.
public final class RemoteTensorSource: TensorSource {
    /// Bytes and time spent fetching so far.
    public struct Transfer: Sendable, Equatable {
        public var bytes = 0
        public var seconds = 0.0
        public var objects = 0
    }

    public let transport: any ChunkTransport
    public let manifest: ChunkManifest
    private let config: BertConfiguration
    private let transfer = Locked(Transfer())
    /// Told of each object fetched (info) and of each one fetched again after failing its check.
    private let logger: Logger?

    /// Fetches the manifest and `config.json`.
    ///
    /// - Throws: the transport's error when nothing answers, ``ChunkingError`` for an invalid
    ///   manifest, ``ModelError`` for a damaged object or an invalid configuration.
    public init(transport: any ChunkTransport, logger: Logger? = nil) async throws {
        self.transport = transport
        self.logger = logger
        let source = transport.location
        // A manifest that comes with a claimed SHA-256 (a weight server's response header) is
        // checked against it, and fetched once more if the two disagree, as other objects are.
        var manifestObject = try await transport.manifest()
        if let claimed = manifestObject.claimed, manifestObject.digest != claimed {
            manifestObject = try await transport.manifest()
        }
        if let claimed = manifestObject.claimed, manifestObject.digest != claimed {
            throw ModelError.checksumMismatch(
                object: ChunkManifest.fileName, source: source, expected: "\(claimed) (the response header's)",
                actual: "\(manifestObject.digest)")
        }
        let json = manifestObject.bytes.withUnsafeBytes { Array($0) }
        if let legacy = try await transport.legacyManifest(json) {
            manifest = legacy
        } else {
            manifest = try ChunkManifest(json: json, source: "\(source) \(ChunkManifest.fileName)")
        }
        let name = "config.json"
        guard let entry = manifest.files[name] else { throw ModelError.notInManifest(object: name, source: source) }
        let bytes = try await Self.fetch(
            name, file: name, size: entry.size, digest: entry.digest, transport: transport, transfer: transfer,
            logger: logger)
        config = try BertConfiguration(json: bytes.withUnsafeBytes { Array($0) }, path: "\(source) \(name)")
    }

    /// A weight server's chunk set, through `client`.
    public convenience init(client: WeightClient) async throws {
        try await self.init(transport: WeightServerTransport(client: client))
    }

    /// The chunk set in a local `directory`, checked exactly as a streamed one is.
    ///
    /// - Throws: ``StorageError`` for a directory that does not exist, then what
    ///   ``init(transport:)`` throws.
    public convenience init(chunkDirectory directory: String, logger: Logger? = nil) async throws {
        try await self.init(
            transport: StoreTransport(reader: try FileSystemBackend(root: directory)), logger: logger)
    }

    /// Bytes and time spent fetching so far.
    public var transferred: Transfer { transfer.withLock { $0 } }

    public func configuration() async throws -> BertConfiguration { config }

    public func contains(_ component: ModelComponent) async throws -> Bool {
        manifest.chunks[component.name] != nil
    }

    public func tensors(of component: ModelComponent) async throws -> ComponentTensors {
        let source = "\(transport.location) \(component.name)"
        guard let chunk = manifest.chunks[component.name] else {
            throw ModelError.notInManifest(object: component.name, source: transport.location)
        }
        let bytes = try await Self.fetch(
            component.name, file: chunk.file, size: chunk.size, digest: chunk.digest, transport: transport,
            transfer: transfer, logger: logger)
        let tensors = try StageClock.measure(.decode) { () throws -> [String: Tensor] in
            try Self.decode(bytes, file: chunk.file, source: source)
        }
        return ComponentTensors(component: component, tensors: tensors, source: source)
    }

    /// A chunk's tensors from its bytes as stored: gunzipped when `file` ends in `.gz`, then
    /// read as safetensors, or as the Python tool's `.pt`.
    private static func decode(_ bytes: ByteStorage, file: String, source: String) throws -> [String: Tensor] {
        let storage: ByteStorage
        if file.hasSuffix(".gz") {
            let decompressor = try GzipDecompressor()
            var plain: [UInt8] = []
            try bytes.withUnsafeBytes { compressed in
                try decompressor.decompress(compressed) { plain.append(contentsOf: $0) }
            }
            try decompressor.finish()
            storage = ByteStorage(keeping: plain[...])
        } else {
            storage = bytes
        }
        var tensors: [String: Tensor] = [:]
        if file.hasSuffix(".pt") {
            // The Python tool's chunks (served by a weight server from its directory), read
            // through the restricted unpickler.
            let checkpoint = try PyTorchCheckpoint(storage: storage, source: source)
            for name in checkpoint.tensorNames { tensors[name] = try checkpoint.tensor(named: name) }
        } else {
            let file = try SafetensorsFile(storage: storage, source: source)
            for name in file.tensorNames { tensors[name] = file[name] }
        }
        return tensors
    }

    /// The tokenizer's files the manifest lists (and only those), each verified; they are
    /// asked for all at once.
    ///
    /// - Throws: ``ModelError/noTokenizer(source:)`` when the manifest lists no vocabulary, or
    ///   a fetch error.
    public func tokenizerFiles() async throws -> [String: [UInt8]] {
        guard manifest.files["vocab.txt"] != nil || manifest.files["tokenizer.json"] != nil else {
            throw ModelError.noTokenizer(source: transport.location)
        }
        return try await withThrowingTaskGroup(of: (String, [UInt8]).self) { group in
            for name in TokenizerLoader.fileNames {
                guard let entry = manifest.files[name] else { continue }
                group.addTask { [self] in
                    let bytes = try await Self.fetch(
                        name, file: name, size: entry.size, digest: entry.digest, transport: transport,
                        transfer: transfer, logger: logger)
                    return (name, bytes.withUnsafeBytes { Array($0) })
                }
            }
            var files: [String: [UInt8]] = [:]
            for try await (name, bytes) in group { files[name] = bytes }
            return files
        }
    }

    /// The sentence-transformers settings the chunk set carries (`modules.json` and the files it
    /// names, each verified): `nil` when the manifest lists no `modules.json`, a failure when the
    /// settings are not ones this library follows (so that flags can still override them).
    ///
    /// - Throws: a fetch error, or ``ModelError`` for a file the manifest lacks or a damaged one.
    public func sentenceEmbeddingSettings() async throws -> Result<SentenceEmbeddingSettings, SentenceEmbeddingError>? {
        let modulesName = SentenceEmbeddingSettings.modulesFile
        guard let entry = manifest.files[modulesName] else { return nil }
        let location = transport.location
        var files: [String: [UInt8]] = [:]
        files[modulesName] = try await Self.fetch(
            modulesName, file: modulesName, size: entry.size, digest: entry.digest, transport: transport,
            transfer: transfer, logger: logger
        ).withUnsafeBytes { Array($0) }
        do {
            for name in try SentenceEmbeddingSettings.configurationFiles(
                modules: files[modulesName] ?? [], location: location)
            {
                // One the manifest lacks is reported by the settings themselves.
                guard let entry = manifest.files[name] else { continue }
                files[name] = try await Self.fetch(
                    name, file: name, size: entry.size, digest: entry.digest, transport: transport, transfer: transfer,
                    logger: logger
                ).withUnsafeBytes { Array($0) }
            }
            return .success(try SentenceEmbeddingSettings(files: files, location: location))
        } catch let error as SentenceEmbeddingError {
            return .failure(error)
        }
    }

    /// The tokenizer from the manifest's files (``tokenizerFiles()``).
    ///
    /// - Throws: what ``tokenizerFiles()`` throws, or ``TokenizerError``.
    public func tokenizer(maximumPositions: Int) async throws -> any TextTokenizer {
        try TokenizerLoader.load(
            files: try await tokenizerFiles(), location: transport.location, maximumPositions: maximumPositions)
    }

    /// Fetches `name` and checks it against the manifest's size and digest.
    ///
    /// Bytes that fail the check are fetched once more, since a link without TLS can damage
    /// them in transit; a second failure (the stored object is damaged) throws.
    private static func fetch(
        _ name: String, file: String, size: Int, digest expected: ContentDigest, transport: any ChunkTransport,
        transfer: Locked<Transfer>, logger: Logger?
    ) async throws -> ByteStorage {
        let start = DispatchTime.now().uptimeNanoseconds
        var attempt = 1
        while true {
            let object = try await transport.object(name: name, file: file, size: size, algorithm: expected.algorithm)
            let bytes = object.bytes
            guard bytes.count == size, object.digest == expected else {
                if attempt < 2 {
                    attempt += 1
                    logger?.warning(
                        "\(name) from \(transport.location) arrived as \(bytes.count) bytes with \(object.digest), not the manifest's; fetching it again"
                    )
                    continue
                }
                throw ModelError.checksumMismatch(
                    object: name, source: transport.location, expected: "\(size) bytes with \(expected)",
                    actual: "\(bytes.count) bytes with \(object.digest)")
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            logger?.info(
                "fetched \(name) from \(transport.location): \(bytes.count) bytes, \(expected.algorithm) verified, \(String(format: "%.1f", seconds * 1000)) ms"
            )
            transfer.withLock {
                $0.bytes += bytes.count
                $0.seconds += seconds
                $0.objects += 1
            }
            return bytes
        }
    }
}
