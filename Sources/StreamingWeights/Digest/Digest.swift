import COpenSSL

/// One-shot hashes, and HMAC over OpenSSL.
public enum Digest {
    /// The SHA-256 of `bytes`.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        hash(bytes, with: .sha256)
    }

    /// The BLAKE3 of `bytes`.
    public static func blake3(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        hash(bytes, with: .blake3)
    }

    /// The SHA-1 of `bytes`.
    public static func sha1(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        hash(bytes, with: .sha1)
    }

    /// The hash of `bytes` with `algorithm`.
    public static func hash(_ bytes: some Sequence<UInt8>, with algorithm: DigestAlgorithm) -> [UInt8] {
        let digest = StreamingDigest(algorithm)
        digest.update(bytes)
        return digest.finalize()
    }

    /// The SHA-256 of the file at `path`, read in blocks so that its size does not matter.
    ///
    /// - Throws: ``FileError`` naming the path.
    public static func sha256(ofFileAtPath path: String) throws -> [UInt8] {
        let digest = StreamingDigest(.sha256)
        try FileReader.forEachBlock(ofFileAtPath: path) { digest.update($0) }
        return digest.finalize()
    }

    /// The digests of `bytes` with each of `algorithms`, in one pass: each 1 MiB piece goes to
    /// every hash while it is in cache, rather than megabytes being read once per hash.
    public static func hashes(of bytes: UnsafeRawBufferPointer, with algorithms: [DigestAlgorithm]) -> [[UInt8]] {
        let digests = algorithms.map(StreamingDigest.init)
        for start in stride(from: 0, to: bytes.count, by: 1 << 20) {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + (1 << 20), bytes.count)])
            for digest in digests { digest.update(piece) }
        }
        return digests.map { $0.finalize() }
    }

    /// HMAC-SHA256 (RFC 2104) of `message` under `key`.
    public static func hmacSHA256(key: some Sequence<UInt8>, message: some Sequence<UInt8>) -> [UInt8] {
        let key = Array(key)
        let message = Array(message)
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBufferPointer { messageBytes in
                HMAC(
                    EVP_sha256(),
                    keyBytes.baseAddress,
                    Int32(keyBytes.count),
                    messageBytes.baseAddress,
                    messageBytes.count,
                    &output,
                    &length
                )
            }
        }
        precondition(result != nil, "OpenSSL failed to compute HMAC-SHA256")
        return Array(output.prefix(Int(length)))
    }
}

extension Sequence<UInt8> {
    /// Lower-case hexadecimal, two digits a byte, as `sha256sum` prints digests.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
