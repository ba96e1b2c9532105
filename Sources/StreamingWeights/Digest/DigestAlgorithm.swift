import COpenSSL

/// A hash function from OpenSSL's libcrypto.
public enum DigestAlgorithm: Sendable, Hashable {
    /// SHA-1, for the WebSocket handshake (RFC 6455 section 4.2.2) only.
    case sha1
    /// SHA-256, for chunk integrity and AWS Signature V4.
    case sha256

    /// The digest length in bytes.
    public var byteCount: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        }
    }

    var evpDigest: OpaquePointer {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        }
    }
}

/// A hash computed incrementally, so that a file or a network stream of any size is hashed as
/// it passes through, without being held whole.
public final class StreamingDigest {
    /// The hash function.
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer
    private var finished = false

    /// Starts a hash.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { preconditionFailure("OpenSSL could not allocate a digest context") }
        self.context = context
        guard EVP_DigestInit_ex(context, algorithm.evpDigest, nil) == 1 else {
            preconditionFailure("OpenSSL could not start \(algorithm)")
        }
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    /// Adds `bytes` to the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "update after finalize")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard EVP_DigestUpdate(context, base, bytes.count) == 1 else {
            preconditionFailure("OpenSSL failed to update \(algorithm)")
        }
    }

    /// Adds `bytes` to the hash.
    public func update(_ bytes: some Sequence<UInt8>) {
        // Contiguous bytes (an array, a slice of one) are hashed where they are.
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) != nil { return }
        Array(bytes).withUnsafeBytes { update($0) }
    }

    /// The digest of everything added.
    ///
    /// The hash cannot be updated afterwards.
    public func finalize() -> [UInt8] {
        precondition(!finished, "finalize twice")
        finished = true
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &digest, &length) == 1 else {
            preconditionFailure("OpenSSL failed to finish \(algorithm)")
        }
        return Array(digest.prefix(Int(length)))
    }
}
