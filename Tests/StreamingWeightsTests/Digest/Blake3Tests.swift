import CKernels
import Foundation
import StreamingWeights
import Testing

@Suite("BLAKE3 against the reference implementations (Python's blake3, b3sum)")
struct Blake3Tests {
    /// Around a block (64 bytes) and a chunk (1024); trees of 2, 3, 4, 8 and 16 chunks and one
    /// short of 31 and 32 (a subtree boundary is a power of two chunks); past 64 KiB; a
    /// mebibyte with and without a partial last chunk; 5 MiB and a few bytes.
    static let lengths = [
        0, 1, 63, 64, 65, 1023, 1024, 1025, 2047, 2048, 2049, 3072, 4095, 4096, 4097, 8192, 16383, 16384, 16385,
        31 * 1024, 32 * 1024 - 1, 65537, 1 << 20, (1 << 20) + 17, (5 << 20) + 3,
    ]

    /// Random inputs of each length, written to files, and their digests by both references.
    static func referenceDigests() throws -> (inputs: [[UInt8]], digests: [String]) {
        var generator = SplitMix(seed: 0xB1A4E3)
        let inputs = lengths.map { length in (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let directory = try TemporaryDirectory()
        let paths = inputs.indices.map { directory.file("input-\($0)") }
        for (input, path) in zip(inputs, paths) { try Data(input).write(to: URL(fileURLWithPath: path)) }
        let b3sum = try ProcessRunner.run("/usr/bin/b3sum", ["--no-names"] + paths)
        #expect(b3sum.status == 0, "\(b3sum.standardError)")
        let python = try ProcessRunner.run(
            Repository.python,
            [
                "-c",
                "import blake3, sys\nfor p in sys.argv[1:]: print(blake3.blake3(open(p, 'rb').read()).hexdigest())",
            ] + paths)
        #expect(python.status == 0, "\(python.standardError)")
        let fromB3sum = b3sum.outputText.split(separator: "\n").map(String.init)
        let fromPython = python.outputText.split(separator: "\n").map(String.init)
        #expect(fromB3sum.count == lengths.count && fromB3sum == fromPython, "the two references disagree")
        return (inputs, fromPython)
    }

    @Test(
        "Random inputs of every length class: each vector path this CPU runs gives both references' digest, whole and fed in pieces"
    )
    func everyPathMatchesTheReferences() throws {
        let (inputs, expected) = try Self.referenceDigests()
        let names: [String] = ["avx512", "avx2", "neon", "portable"]
        let paths = names.filter { sw_blake3_supports($0) == 1 }
        #expect(paths.contains("portable") && paths.contains(DigestAlgorithm.blake3Implementation))
        defer { sw_blake3_force(nil) }
        var generator = SplitMix(seed: 7)
        for path in paths {
            sw_blake3_force(path)
            for (input, digest) in zip(inputs, expected) {
                #expect(Digest.blake3(input).hexString == digest, "\(path), \(input.count) bytes, whole")
                let pieces = StreamingDigest(.blake3)
                var offset = 0
                while offset < input.count {
                    let length = min(input.count - offset, Int.random(in: 0...5000, using: &generator))
                    pieces.update(input[offset..<(offset + length)])
                    offset += length
                }
                #expect(pieces.finalize().hexString == digest, "\(path), \(input.count) bytes, in pieces")
            }
        }
    }

    @Test("Hashing with several algorithms in one pass of 1 MiB pieces gives each one's digest of the whole")
    func severalAlgorithmsInOnePass() {
        var generator = SplitMix(seed: 99)
        for length in [0, 5, 1 << 20, (3 << 20) + 7] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let digests = bytes.withUnsafeBytes { Digest.hashes(of: $0, with: [.sha256, .blake3]) }
            #expect(digests == [Digest.sha256(bytes), Digest.blake3(bytes)], "\(length) bytes")
        }
    }
}
