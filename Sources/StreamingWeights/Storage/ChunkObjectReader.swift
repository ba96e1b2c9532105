import Foundation

/// An object's bytes as received, with their SHA-256.
public struct TransportedObject: Sendable {
    public var bytes: ByteStorage
    /// The SHA-256 of ``bytes``, computed as they arrived or after.
    public var sha256: [UInt8]
    /// The SHA-256 the sender claims for them, when it sends one.
    public var claimedSHA256: String?

    public init(bytes: ByteStorage, sha256: [UInt8], claimedSHA256: String? = nil) {
        self.bytes = bytes
        self.sha256 = sha256
        self.claimedSHA256 = claimedSHA256
    }

    /// `bytes` with their SHA-256 computed now.
    public init(hashing bytes: ByteStorage) {
        let digest = StreamingDigest(.sha256)
        bytes.withUnsafeBytes { digest.update($0) }
        self.init(bytes: bytes, sha256: digest.finalize())
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

    /// Object `key` of `size` bytes with its SHA-256, which a reader may compute as the bytes
    /// arrive.
    func readHashed(_ key: String, size: Int) async throws -> TransportedObject
}

extension ChunkObjectReader {
    /// Reads, then hashes off the cooperative threads.
    public func readHashed(_ key: String, size: Int) async throws -> TransportedObject {
        let bytes = try await read(key, size: size)
        return try await runBlocking { TransportedObject(hashing: bytes) }
    }
}

extension StorageBackend {
    public func read(_ key: String, size: Int?) async throws -> ByteStorage {
        try await read(key)
    }
}
