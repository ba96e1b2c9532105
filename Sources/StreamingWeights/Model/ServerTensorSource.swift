import Foundation

/// The weights a weight server serves: the manifest first, then each object on demand, every
/// one checked against the manifest's size and SHA-256 before it is used.
public final class ServerTensorSource: TensorSource {
    /// Bytes and time spent fetching so far.
    public struct Transfer: Sendable, Equatable {
        public var bytes = 0
        public var seconds = 0.0
        public var objects = 0
    }

    public let client: WeightClient
    public let manifest: ChunkManifest
    private let config: BertConfiguration
    private let transfer = Locked(Transfer())

    /// Fetches the manifest and `config.json`.
    ///
    /// - Throws: ``WeightClient/Failure`` when no server answers, ``ChunkingError`` for an
    ///   invalid manifest, ``ModelError`` for a damaged or invalid configuration.
    public init(client: WeightClient) async throws {
        self.client = client
        let source = client.configuration.url
        // The manifest is checked against the SHA-256 in its response header (nothing else
        // vouches for it), and fetched once more if the two disagree, as other objects are.
        var manifestObject = try await client.get(.manifest)
        if manifestObject.payloadSHA256.hexString != manifestObject.header.sha256 {
            manifestObject = try await client.get(.manifest)
        }
        guard manifestObject.payloadSHA256.hexString == manifestObject.header.sha256 else {
            throw ModelError.checksumMismatch(
                object: ChunkManifest.fileName, source: source,
                expected: "SHA-256 \(manifestObject.header.sha256) (the response header's)",
                actual: "SHA-256 \(manifestObject.payloadSHA256.hexString)")
        }
        manifest = try ChunkManifest(
            json: Array(manifestObject.payload), source: "\(source) \(ChunkManifest.fileName)")
        let name = "config.json"
        guard let entry = manifest.files[name] else { throw ModelError.notInManifest(object: name, source: source) }
        let bytes = try await Self.fetch(
            name, size: entry.size, sha256: entry.sha256, client: client, transfer: transfer)
        config = try BertConfiguration(json: Array(bytes), path: "\(source) \(name)")
    }

    /// Bytes and time spent fetching so far.
    public var transferred: Transfer { transfer.withLock { $0 } }

    public func configuration() async throws -> BertConfiguration { config }

    public func contains(_ component: ModelComponent) async throws -> Bool {
        manifest.chunks[component.name] != nil
    }

    public func tensors(of component: ModelComponent) async throws -> ComponentTensors {
        let source = "\(client.configuration.url) \(component.name)"
        guard let chunk = manifest.chunks[component.name] else {
            throw ModelError.notInManifest(object: component.name, source: client.configuration.url)
        }
        let bytes = try await Self.fetch(
            component.name, size: chunk.size, sha256: chunk.sha256, client: client, transfer: transfer)
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
            storage = ByteStorage(keeping: bytes)
        }
        let file = try SafetensorsFile(storage: storage, source: source)
        var tensors: [String: Tensor] = [:]
        for name in file.tensorNames { tensors[name] = file[name] }
        return ComponentTensors(component: component, tensors: tensors, source: source)
    }

    /// The manifest's other files (the tokenizer's), written into `directory`, each verified;
    /// they are asked for all at once.
    public func downloadFiles(into directory: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, entry) in manifest.files where name != "config.json" {
                group.addTask { [self] in
                    let bytes = try await Self.fetch(
                        name, size: entry.size, sha256: entry.sha256, client: client, transfer: transfer)
                    let path = (directory as NSString).appendingPathComponent((name as NSString).lastPathComponent)
                    try Data(bytes).write(to: URL(fileURLWithPath: path))
                }
            }
            try await group.waitForAll()
        }
    }

    /// Fetches `name` and checks it against the manifest's size and SHA-256 (the bytes are a
    /// slice of the response message: nothing is copied).
    ///
    /// Bytes that fail the check are fetched once more, since a link without TLS can damage
    /// them in transit; a second failure (the stored object is damaged) throws.
    private static func fetch(
        _ name: String, size: Int, sha256: String, client: WeightClient, transfer: Locked<Transfer>
    ) async throws -> ArraySlice<UInt8> {
        let start = DispatchTime.now().uptimeNanoseconds
        var attempt = 1
        while true {
            let object = try await client.get(.get, name: name, expectedLength: size)
            let bytes = object.payload
            let digest = object.payloadSHA256.hexString
            guard bytes.count == size, digest == sha256 else {
                if attempt < 2 {
                    attempt += 1
                    continue
                }
                throw ModelError.checksumMismatch(
                    object: name, source: client.configuration.url, expected: "\(size) bytes with SHA-256 \(sha256)",
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
