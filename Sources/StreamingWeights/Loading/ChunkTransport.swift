import Foundation

/// How a streamed model's objects travel: a weight server, an S3 bucket, an HTTP server or a
/// local directory.
///
/// Only the transport differs between sources: ``RemoteTensorSource`` checks every object
/// against the manifest, and ``StreamingBertModel`` caches, prefetches and counts the same way
/// whatever the transport.
public protocol ChunkTransport: Sendable {
    /// Where the objects come from, for messages: `ws://host:port`, `s3://bucket/prefix` ...
    var location: String { get }

    /// The manifest's bytes, with the SHA-256 the transport vouches for when it has one (a
    /// weight server's response header); a store's manifest has no such check.
    func manifest() async throws -> TransportedObject

    /// Object `name` of the manifest (a chunk name or a file name), stored as `file`, which
    /// the manifest says is `size` bytes.
    func object(name: String, file: String, size: Int) async throws -> TransportedObject

    /// The manifest of a chunk set the Python tool made, whose `chunk_info.json` is `json`
    /// (``LegacyChunkSet``), or `nil` when the transport cannot build one or `json` is not such
    /// a manifest.
    func legacyManifest(_ json: [UInt8]) async throws -> ChunkManifest?

    /// Closes any connection; the transport may be used again afterwards.
    func close()
}

extension ChunkTransport {
    public func close() {}

    /// A weight server builds the manifest of a Python chunk set itself.
    public func legacyManifest(_ json: [UInt8]) async throws -> ChunkManifest? { nil }
}

/// A weight server over one persistent WebSocket connection (``WeightClient``): objects are
/// asked for by name and hashed while they arrive.
public struct WeightServerTransport: ChunkTransport {
    public let client: WeightClient

    public init(client: WeightClient) {
        self.client = client
    }

    public var location: String { client.configuration.url }

    public func manifest() async throws -> TransportedObject {
        let object = try await client.get(.manifest)
        return TransportedObject(
            bytes: ByteStorage(keeping: object.payload), sha256: object.payloadSHA256,
            claimedSHA256: object.header.sha256)
    }

    public func object(name: String, file: String, size: Int) async throws -> TransportedObject {
        let object = try await client.get(.get, name: name, expectedLength: size)
        return TransportedObject(bytes: ByteStorage(keeping: object.payload), sha256: object.payloadSHA256)
    }

    public func close() { client.close() }
}

/// A chunk set read straight from where the chunker wrote it.
///
/// A directory, an S3 bucket, or a static HTTP server holding a copy. Objects are read by file
/// name and hashed as they arrive or once read (off the cooperative threads).
public struct StoreTransport: ChunkTransport {
    public let reader: any ChunkObjectReader

    public init(reader: any ChunkObjectReader) {
        self.reader = reader
    }

    public var location: String { reader.location }

    public func manifest() async throws -> TransportedObject {
        do {
            return try await hashed(reader.read(ChunkManifest.fileName, size: nil))
        } catch StorageError.notFound(let key, let location) {
            if let directory = reader as? FileSystemBackend, Checkpoint.holdsModel(directory: directory.root) {
                throw ModelError.modelDirectoryNotChunkSet(directory: directory.root)
            }
            throw StorageError.notFound(key: key, location: location)
        }
    }

    public func object(name: String, file: String, size: Int) async throws -> TransportedObject {
        try await reader.readHashed(file, size: size)
    }

    /// Reads and hashes every chunk once: the Python tool's manifest has no hashes, so those
    /// taken now guard the reads that follow (a file changed since is caught), though nothing
    /// vouches for the files as first read.
    public func legacyManifest(_ json: [UInt8]) async throws -> ChunkManifest? {
        try await LegacyChunkSet.manifest(legacyJSON: json, storage: reader)
    }

    private func hashed(_ bytes: ByteStorage) async throws -> TransportedObject {
        try await runBlocking { TransportedObject(hashing: bytes) }
    }
}
