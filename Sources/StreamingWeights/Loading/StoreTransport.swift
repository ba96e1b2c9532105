import Foundation

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

    public func object(name: String, file: String, size: Int, algorithm: DigestAlgorithm) async throws
        -> TransportedObject
    {
        try await reader.readHashed(file, size: size, algorithm: algorithm)
    }

    /// Reads and hashes every chunk once: the Python tool's manifest has no hashes, so those
    /// taken now guard the reads that follow (a file changed since is caught), though nothing
    /// vouches for the files as first read.
    public func legacyManifest(_ json: [UInt8]) async throws -> ChunkManifest? {
        try await LegacyChunkSet.manifest(legacyJSON: json, storage: reader)
    }

    private func hashed(_ bytes: ByteStorage) async throws -> TransportedObject {
        try await runBlocking { TransportedObject(hashing: bytes, with: .sha256) }
    }
}
