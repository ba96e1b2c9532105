import Foundation

/// The weights of a chunk set somewhere else, through a ``ChunkTransport``: the manifest first,
/// then each object on demand, every one checked against the manifest's size and SHA-256
/// before it is used.
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

    /// Fetches the manifest and `config.json`.
    ///
    /// - Throws: the transport's error when nothing answers, ``ChunkingError`` for an invalid
    ///   manifest, ``ModelError`` for a damaged object or an invalid configuration.
    public init(transport: any ChunkTransport) async throws {
        self.transport = transport
        let source = transport.location
        // A manifest that comes with a claimed SHA-256 (a weight server's response header) is
        // checked against it, and fetched once more if the two disagree, as other objects are.
        var manifestObject = try await transport.manifest()
        if let claimed = manifestObject.claimedSHA256, manifestObject.sha256.hexString != claimed {
            manifestObject = try await transport.manifest()
        }
        if let claimed = manifestObject.claimedSHA256, manifestObject.sha256.hexString != claimed {
            throw ModelError.checksumMismatch(
                object: ChunkManifest.fileName, source: source,
                expected: "SHA-256 \(claimed) (the response header's)",
                actual: "SHA-256 \(manifestObject.sha256.hexString)")
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
            name, file: name, size: entry.size, sha256: entry.sha256, transport: transport, transfer: transfer)
        config = try BertConfiguration(json: bytes.withUnsafeBytes { Array($0) }, path: "\(source) \(name)")
    }

    /// A weight server's chunk set, through `client`.
    public convenience init(client: WeightClient) async throws {
        try await self.init(transport: WeightServerTransport(client: client))
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
            component.name, file: chunk.file, size: chunk.size, sha256: chunk.sha256, transport: transport,
            transfer: transfer)
        let storage: ByteStorage
        if chunk.file.hasSuffix(".gz") {
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
        if chunk.file.hasSuffix(".pt") {
            // The Python tool's chunks (served by a weight server from its directory), read
            // through the restricted unpickler.
            let checkpoint = try PyTorchCheckpoint(storage: storage, source: source)
            for name in checkpoint.tensorNames { tensors[name] = try checkpoint.tensor(named: name) }
        } else {
            let file = try SafetensorsFile(storage: storage, source: source)
            for name in file.tensorNames { tensors[name] = file[name] }
        }
        return ComponentTensors(component: component, tensors: tensors, source: source)
    }

    /// The manifest's other files (the tokenizer's), written into `directory`, each verified;
    /// they are asked for all at once.
    public func downloadFiles(into directory: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, entry) in manifest.files where name != "config.json" {
                group.addTask { [self] in
                    let bytes = try await Self.fetch(
                        name, file: name, size: entry.size, sha256: entry.sha256, transport: transport,
                        transfer: transfer)
                    let path = (directory as NSString).appendingPathComponent((name as NSString).lastPathComponent)
                    try bytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Fetches `name` and checks it against the manifest's size and SHA-256.
    ///
    /// Bytes that fail the check are fetched once more, since a link without TLS can damage
    /// them in transit; a second failure (the stored object is damaged) throws.
    private static func fetch(
        _ name: String, file: String, size: Int, sha256: String, transport: any ChunkTransport,
        transfer: Locked<Transfer>
    ) async throws -> ByteStorage {
        let start = DispatchTime.now().uptimeNanoseconds
        var attempt = 1
        while true {
            let object = try await transport.object(name: name, file: file, size: size)
            let bytes = object.bytes
            let digest = object.sha256.hexString
            guard bytes.count == size, digest == sha256 else {
                if attempt < 2 {
                    attempt += 1
                    continue
                }
                throw ModelError.checksumMismatch(
                    object: name, source: transport.location, expected: "\(size) bytes with SHA-256 \(sha256)",
                    actual: "\(bytes.count) bytes with SHA-256 \(digest)")
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            transfer.withLock {
                $0.bytes += bytes.count
                $0.seconds += seconds
                $0.objects += 1
            }
            return bytes
        }
    }
}
