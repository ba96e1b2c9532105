import CKernels
import COpenSSL

/// A hash function: SHA-1 and SHA-256 from OpenSSL's libcrypto, BLAKE3 of our own (CKernels).
public enum DigestAlgorithm: Sendable, Hashable, CustomStringConvertible {
    /// SHA-1, for the WebSocket handshake (RFC 6455 section 4.2.2) only.
    case sha1
    /// SHA-256, for chunk integrity (manifests before BLAKE3, `sha256sum`, S3 checksums) and
    /// AWS Signature V4.
    case sha256
    /// BLAKE3 (32-byte digests), for chunk integrity at memory speed: the widest vector path
    /// this CPU runs, chosen at run time (``DigestAlgorithm/blake3Implementation``).
    case blake3

    /// The digest length in bytes.
    public var byteCount: Int {
        switch self {
        case .sha1: 20
        case .sha256, .blake3: 32
        }
    }

    /// The name for messages: `SHA-1`, `SHA-256`, `BLAKE3`.
    public var description: String {
        switch self {
        case .sha1: "SHA-1"
        case .sha256: "SHA-256"
        case .blake3: "BLAKE3"
        }
    }

    /// The vector path BLAKE3 hashes with in this process: `avx512`, `avx2`, `neon` or
    /// `portable`.
    public static var blake3Implementation: String { String(cString: sw_blake3_implementation()) }
}

/// A hash computed incrementally, so that a file or a network stream of any size is hashed as
/// it passes through, without being held whole.
public final class StreamingDigest {
    /// The hash function.
    public let algorithm: DigestAlgorithm
    private enum State {
        case openSSL(OpaquePointer)
        case blake3(UnsafeMutablePointer<sw_blake3>)
    }
    private let state: State
    private var finished = false

    /// Starts a hash.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .blake3:
            let hasher = UnsafeMutablePointer<sw_blake3>.allocate(capacity: 1)
            sw_blake3_init(hasher)
            state = .blake3(hasher)
        case .sha1, .sha256:
            guard let context = EVP_MD_CTX_new() else {
                preconditionFailure("OpenSSL could not allocate a digest context")
            }
            guard EVP_DigestInit_ex(context, algorithm == .sha1 ? EVP_sha1() : EVP_sha256(), nil) == 1 else {
                preconditionFailure("OpenSSL could not start \(algorithm)")
            }
            state = .openSSL(context)
        }
    }

    deinit {
        switch state {
        case .openSSL(let context): EVP_MD_CTX_free(context)
        case .blake3(let hasher): hasher.deallocate()
        }
    }

    /// Adds `bytes` to the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "update after finalize")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        switch state {
        case .openSSL(let context):
            guard EVP_DigestUpdate(context, base, bytes.count) == 1 else {
                preconditionFailure("OpenSSL failed to update \(algorithm)")
            }
        case .blake3(let hasher):
            sw_blake3_update(hasher, base, bytes.count)
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
        switch state {
        case .openSSL(let context):
            var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            guard EVP_DigestFinal_ex(context, &digest, &length) == 1 else {
                preconditionFailure("OpenSSL failed to finish \(algorithm)")
            }
            return Array(digest.prefix(Int(length)))
        case .blake3(let hasher):
            var digest = [UInt8](repeating: 0, count: 32)
            sw_blake3_finalize(hasher, &digest)
            return digest
        }
    }
}
