import Foundation
import Synchronization

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
    private let transfer = Mutex(Transfer())

    /// Fetches the manifest and `config.json`.
    ///
    /// - Throws: ``WeightClient/Failure`` when no server answers, ``ChunkingError`` for an
    ///   invalid manifest, ``ModelError`` for a damaged or invalid configuration.
    public init(client: WeightClient) async throws {
        self.client = client
        let (_, payload) = try await client.get(.manifest)
        manifest = try ChunkManifest(
            json: Array(payload), source: "\(client.configuration.url) \(ChunkManifest.fileName)")
        let source = client.configuration.url
        let name = "config.json"
        guard let entry = manifest.files[name] else { throw ModelError.notInManifest(object: name, source: source) }
        let bytes = try await Self.fetch(
            name, size: entry.size, sha256: entry.sha256, client: client, transfer: transfer)
        config = try BertConfiguration(json: bytes.withUnsafeBytes { Array($0) }, path: "\(source) \(name)")
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
        let fetched = try await Self.fetch(
            component.name, size: chunk.size, sha256: chunk.sha256, client: client, transfer: transfer)
        let storage: ByteStorage
        if chunk.file.hasSuffix(".gz") {
            let decompressor = try GzipDecompressor()
            var plain: [UInt8] = []
            try fetched.withUnsafeBytes { compressed in
                try decompressor.decompress(compressed) { plain.append(contentsOf: $0) }
            }
            try decompressor.finish()
            storage = ByteStorage(plain)
        } else {
            storage = fetched
        }
        let file = try SafetensorsFile(storage: storage, source: source)
        var tensors: [String: Tensor] = [:]
        for name in file.tensorNames { tensors[name] = file[name] }
        return ComponentTensors(component: component, tensors: tensors, source: source)
    }

    /// The manifest's other files (the tokenizer's), written into `directory`, each verified.
    public func downloadFiles(into directory: String) async throws {
        for (name, entry) in manifest.files.sorted(by: { $0.key < $1.key }) where name != "config.json" {
            let bytes = try await Self.fetch(
                name, size: entry.size, sha256: entry.sha256, client: client, transfer: transfer)
            let path = (directory as NSString).appendingPathComponent((name as NSString).lastPathComponent)
            try bytes.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
        }
    }

    /// Objects larger than this are fetched as byte ranges of this size.
    static let rangeSize = 8 << 20
    /// Ranges of one object requested at once.
    static let rangesInFlight = 2

    /// Fetches `name` and checks it against the manifest's size and SHA-256.
    ///
    /// A small object is one response, shared without copying. A large one arrives in ranges of
    /// ``rangeSize``, a few in flight, each copied into place and hashed as it comes: memory holds
    /// the object and a range or two, never the object twice, and a connection lost part way
    /// costs only the ranges in flight (each retried on its own, from its offset).
    private static func fetch(
        _ name: String, size: Int, sha256: String, client: WeightClient, transfer: borrowing Mutex<Transfer>
    ) async throws -> ByteStorage {
        let start = DispatchTime.now().uptimeNanoseconds
        let mismatch = { (count: Int, digest: String) in
            ModelError.checksumMismatch(
                object: name, source: client.configuration.url, expected: "\(size) bytes with SHA-256 \(sha256)",
                actual: "\(count) bytes with SHA-256 \(digest)")
        }
        let storage: ByteStorage
        if size <= rangeSize {
            let (_, bytes) = try await client.get(.get, name: name)
            let digest = Digest.sha256(bytes).hexString
            guard bytes.count == size, digest == sha256 else { throw mismatch(bytes.count, digest) }
            storage = ByteStorage(keeping: bytes)
        } else {
            storage = try await fetchRanges(name, size: size, client: client) { count, digest in
                guard count == size, digest == sha256 else { throw mismatch(count, digest) }
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        transfer.withLock {
            $0.bytes += size
            $0.seconds += seconds
            $0.objects += 1
        }
        return storage
    }

    /// `name`'s `size` bytes, fetched in ranges into one allocation; `check` sees the size the
    /// server reports and the SHA-256 of what arrived before the storage is returned.
    private static func fetchRanges(
        _ name: String, size: Int, client: WeightClient, check: (Int, String) throws -> Void
    ) async throws -> ByteStorage {
        let digest = StreamingDigest(.sha256)
        let storage = try await ByteStorage(count: size) { (memory: UnsafeMutableRawBufferPointer) async throws in
            var pending:
                [(offset: Int, task: Task<(header: WireMessage.Header, payload: ArraySlice<UInt8>), any Error>)] = []
            defer { for request in pending { request.task.cancel() } }
            var next = 0
            func request() {
                let (offset, length) = (next, min(rangeSize, size - next))
                pending.append(
                    (offset, Task { try await client.get(.get, name: name, offset: offset, length: length) }))
                next += length
            }
            while next < size && pending.count < rangesInFlight { request() }
            while !pending.isEmpty {
                let (offset, task) = pending.removeFirst()
                let (header, payload) = try await task.value
                // The object on the server is not the one the manifest describes.
                guard header.size == size, header.offset == offset, offset + payload.count <= size else {
                    try check(header.size, "unknown (its size differs)")
                    return
                }
                payload.withUnsafeBytes { range in
                    UnsafeMutableRawBufferPointer(rebasing: memory[offset..<(offset + range.count)]).copyMemory(
                        from: range)
                    digest.update(range)
                }
                if next < size { request() }
            }
        }
        try check(storage.count, digest.finalize().hexString)
        return storage
    }
}
