import Foundation
import StreamingWeights
import Testing

@Suite("gzip over zlib")
struct GzipTests {
    static func sample(count: Int, seed: UInt64) -> [UInt8] {
        // Half random, half repetitive, so compression has something to do and something to skip.
        var state = seed
        return (0..<count).map { index in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return index % 2 == 0 ? UInt8(truncatingIfNeeded: state >> 33) : UInt8(index % 7)
        }
    }

    @Test("Data of any size survives a round trip", arguments: [0, 1, 1000, 256 * 1024, 3_000_001])
    func roundTrip(count: Int) throws {
        let original = Self.sample(count: count, seed: UInt64(count))
        let compressed = try Gzip.compress(original)
        #expect(compressed.starts(with: [0x1f, 0x8b]))
        #expect(try Gzip.decompress(compressed) == original)
    }

    @Test("gzip -d restores what we compress")
    func gzipAcceptsOurOutput() throws {
        let original = Self.sample(count: 700_000, seed: 1)
        let directory = try TemporaryDirectory()
        let path = directory.file("chunk.gz")
        try Data(try Gzip.compress(original)).write(to: URL(fileURLWithPath: path))
        let result = try ProcessRunner.run("/usr/bin/env", ["gzip", "-dc", path])
        #expect(result.status == 0, "gzip said: \(result.standardError)")
        #expect(Array(result.standardOutput) == original)
    }

    @Test("We restore what gzip compresses, concatenated members included")
    func weAcceptGzipOutput() throws {
        let first = Self.sample(count: 500_000, seed: 2)
        let second = Array("a second member".utf8)
        let one = try ProcessRunner.run("/usr/bin/env", ["gzip", "-c", "-9"], input: Data(first))
        let two = try ProcessRunner.run("/usr/bin/env", ["gzip", "-c"], input: Data(second))
        #expect(one.status == 0 && two.status == 0)
        #expect(try Gzip.decompress(Array(one.standardOutput)) == first)
        #expect(try Gzip.decompress(Array(one.standardOutput) + Array(two.standardOutput)) == first + second)
    }

    @Test("A stream fed one byte at a time decompresses the same")
    func byteAtATime() throws {
        let original = Self.sample(count: 20_000, seed: 3)
        let compressed = try Gzip.compress(original)
        let decompressor = try GzipDecompressor()
        var output: [UInt8] = []
        for byte in compressed {
            try [byte].withUnsafeBytes { try decompressor.decompress($0) { output.append(contentsOf: $0) } }
        }
        try decompressor.finish()
        #expect(output == original)
    }

    @Test("A truncated stream is an error, wherever it is cut")
    func truncated() throws {
        let compressed = try Gzip.compress(Self.sample(count: 100_000, seed: 4))
        for cut in [0, 1, 10, compressed.count / 2, compressed.count - 8, compressed.count - 1] {
            #expect(throws: GzipError.self, "cut at \(cut)") {
                _ = try Gzip.decompress(compressed.prefix(cut))
            }
        }
        #expect {
            _ = try Gzip.decompress(compressed.dropLast(4))
        } throws: { error in
            guard case GzipError.truncated = error else { return false }
            return "\(error)".contains("truncated")
        }
    }

    @Test("A flipped byte in the data or trailer is caught")
    func corrupt() throws {
        let compressed = try Gzip.compress(Self.sample(count: 100_000, seed: 5))
        for position in [compressed.count / 2, compressed.count - 6] {
            var damaged = compressed
            damaged[position] ^= 0x40
            #expect(throws: GzipError.self, "flipped byte \(position)") {
                _ = try Gzip.decompress(damaged)
            }
        }
        #expect(throws: GzipError.self) { _ = try Gzip.decompress(Array("not gzip at all".utf8)) }
    }

    @Test("Output past the limit stops decompression")
    func outputLimit() throws {
        let bomb = try Gzip.compress([UInt8](repeating: 0, count: 10_000_000))
        #expect(bomb.count < 20_000)
        #expect(throws: GzipError.outputTooLarge(limit: 1_000_000)) {
            _ = try Gzip.decompress(bomb, maximumOutputSize: 1_000_000)
        }
    }

    @Test("Files compress and decompress block by block; a failed decompression leaves no output file")
    func files() throws {
        let directory = try TemporaryDirectory()
        let original = Self.sample(count: 2_500_000, seed: 6)
        let source = directory.file("layer_0.safetensors")
        try Data(original).write(to: URL(fileURLWithPath: source))
        try Gzip.compressFile(atPath: source, toPath: directory.file("layer_0.safetensors.gz"))
        try Gzip.decompressFile(atPath: directory.file("layer_0.safetensors.gz"), toPath: directory.file("restored"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.file("restored"))) == Data(original))

        let compressed = try Data(contentsOf: URL(fileURLWithPath: directory.file("layer_0.safetensors.gz")))
        try compressed.prefix(compressed.count / 2).write(to: URL(fileURLWithPath: directory.file("cut.gz")))
        #expect(throws: GzipError.self) {
            try Gzip.decompressFile(atPath: directory.file("cut.gz"), toPath: directory.file("cut"))
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.hasPrefix("cut")
        }
        #expect(leftovers == ["cut.gz"])
    }
}
