import Foundation

/// An object's bytes as received, with their digest.
public struct TransportedObject: Sendable {
    public var bytes: ByteStorage
    /// The digest of ``bytes`` with the algorithm asked for, computed as they arrived or after.
    public var digest: ContentDigest
    /// The digest the sender claims for them with the same algorithm, when it sends one.
    public var claimed: ContentDigest?

    public init(bytes: ByteStorage, digest: ContentDigest, claimed: ContentDigest? = nil) {
        self.bytes = bytes
        self.digest = digest
        self.claimed = claimed
    }

    /// `bytes` with their digest computed now.
    public init(hashing bytes: ByteStorage, with algorithm: DigestAlgorithm) {
        let digest = StreamingDigest(algorithm)
        let value = StageClock.measure(.hash) {
            bytes.withUnsafeBytes { digest.update($0) }
            return digest.finalize()
        }
        self.init(bytes: bytes, digest: ContentDigest(algorithm, value.hexString))
    }
}

/// A store objects of a chunk set can be read from by key.
public protocol ChunkObjectReader: Sendable {
    /// Where the objects are, for messages.
    var location: String { get }

    /// Object `key`. `size`, when known (from the manifest), lets a reader skip asking for it
    /// and read in parallel ranges; no more than `size` bytes are read then, and the caller
    /// checks what arrived.
    func read(_ key: String, size: Int?) async throws -> ByteStorage

    /// Object `key` of `size` bytes with its digest by `algorithm`, which a reader may compute
    /// as the bytes arrive.
    func readHashed(_ key: String, size: Int, algorithm: DigestAlgorithm) async throws -> TransportedObject
}

extension ChunkObjectReader {
    /// Reads, then hashes off the cooperative threads.
    public func readHashed(_ key: String, size: Int, algorithm: DigestAlgorithm) async throws -> TransportedObject {
        let bytes = try await read(key, size: size)
        return try await runBlocking { TransportedObject(hashing: bytes, with: algorithm) }
    }
}

extension StorageBackend {
    public func read(_ key: String, size: Int?) async throws -> ByteStorage {
        try await read(key)
    }
}
