/// A digest of an object: the algorithm and the lower-case hex value (what a manifest promises,
/// or what arrived).
public struct ContentDigest: Sendable, Equatable, CustomStringConvertible {
    public var algorithm: DigestAlgorithm
    public var hex: String

    public init(_ algorithm: DigestAlgorithm, _ hex: String) {
        self.algorithm = algorithm
        self.hex = hex
    }

    /// BLAKE3 when the manifest has it (faster to check than SHA-256: `scripts/test-kernels
    /// --bench` prints both on this CPU), else SHA-256: the check every reader of a chunk set
    /// makes.
    public static func preferred(sha256: String, blake3: String?) -> ContentDigest {
        blake3.map { ContentDigest(.blake3, $0) } ?? ContentDigest(.sha256, sha256)
    }

    /// `SHA-256 <hex>`, `BLAKE3 <hex>`.
    public var description: String { "\(algorithm) \(hex)" }
}
