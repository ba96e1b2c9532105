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

    /// The manifest's bytes and their SHA-256, with the SHA-256 the transport vouches for when
    /// it has one (a weight server's response header); a store's manifest has no such check.
    func manifest() async throws -> TransportedObject

    /// Object `name` of the manifest (a chunk name or a file name), stored as `file`, which
    /// the manifest says is `size` bytes, hashed with `algorithm` (the manifest's digest's).
    func object(name: String, file: String, size: Int, algorithm: DigestAlgorithm) async throws -> TransportedObject

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
