import CKernels
import Foundation
import StreamingWeights
import Testing

@Suite("SHA-256 of several messages two at a time, against sha256sum", .serialized)
struct PairedSHA256Tests {
    /// Around a block (64 bytes) and the padding's edge (55, 56: the length no longer fits in the
    /// last block), several blocks, past 64 KiB, a mebibyte and a few bytes.
    static let lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65537, (1 << 20) + 17]

    /// Random messages of each length, and their digests by coreutils' sha256sum.
    static func referenceDigests() throws -> (messages: [[UInt8]], digests: [[UInt8]]) {
        var generator = SplitMix(seed: 0x5A256)
        let messages = lengths.map { length in (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        let directory = try TemporaryDirectory()
        let paths = messages.indices.map { directory.file("message-\($0)") }
        for (message, path) in zip(messages, paths) { try Data(message).write(to: URL(fileURLWithPath: path)) }
        let result = try ProcessRunner.run("/usr/bin/sha256sum", paths)
        #expect(result.status == 0, "\(result.standardError)")
        let digests = result.outputText.split(separator: "\n").map { line in
            let hex = Array(line.prefix(64).utf8)
            return stride(from: 0, to: 64, by: 2).compactMap {
                UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)
            }
        }
        #expect(digests.count == lengths.count)
        return (messages, digests)
    }

    /// `message` cut at random points into pieces of 0 to `largest` bytes.
    static func pieces(of message: UnsafeRawBufferPointer, largest: Int, using generator: inout SplitMix)
        -> [UnsafeRawBufferPointer]
    {
        var pieces: [UnsafeRawBufferPointer] = []
        var offset = 0
        while offset < message.count {
            let length = min(Int.random(in: 0...largest, using: &generator), message.count - offset)
            pieces.append(UnsafeRawBufferPointer(rebasing: message[offset..<offset + length]))
            offset += length
        }
        return pieces
    }

    /// Every message in one call, in several orders (so that each pairs with others of other
    /// lengths, and the lanes take up new messages at every offset), whole and in pieces of up
    /// to 70 bytes (partial blocks at every turn) or 100,000; two at a time on the SHA extensions
    /// where the CPU has them, and with them forced off, where PairedSHA256 hashes one message
    /// after the other with OpenSSL (the C file's plain C path is scripts/test-kernels').
    @Test(
        "Every message gets sha256sum's digest, whatever its partner, its pieces and the path",
        arguments: [false, true])
    func digestsMatchSha256sum(portable: Bool) throws {
        let (messages, expected) = try Self.referenceDigests()
        sw_sha256_force_portable(portable ? 1 : 0)
        defer { sw_sha256_force_portable(0) }
        #expect(PairedSHA256.pairs == (!portable && sw_sha256_supported() != 0))
        var generator = SplitMix(seed: portable ? 7 : 11)
        let copies = messages.map(Self.copy)
        defer { for copy in copies { copy.deallocate() } }
        let whole = copies.map { UnsafeRawBufferPointer($0) }
        for round in 0..<6 {
            let order = round == 0 ? Array(messages.indices) : messages.indices.shuffled(using: &generator)
            let largest = [1 << 30, 70, 100_000][round % 3]
            let input = order.map { Self.pieces(of: whole[$0], largest: largest, using: &generator) }
            var finished: [Int] = []
            let digests = PairedSHA256.digests(of: input) { finished.append($0) }
            #expect(finished.sorted() == Array(order.indices), "each message is reported finished once")
            for (position, index) in order.enumerated() {
                #expect(
                    digests[position] == expected[index],
                    "round \(round): message of \(messages[index].count) bytes, pieces up to \(largest)")
            }
        }
    }

    /// `bytes` at a fixed address, until deallocated.
    static func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        memory.copyBytes(from: bytes)
        return UnsafeMutableRawBufferPointer(rebasing: memory[0..<bytes.count])
    }

    @Test("One message, and none, without a partner")
    func oneMessageAndNone() throws {
        let (messages, expected) = try Self.referenceDigests()
        let last = Self.copy(messages[messages.count - 1])
        defer { last.deallocate() }
        let digests = PairedSHA256.digests(of: [[UnsafeRawBufferPointer(last)]])
        #expect(digests == [expected[expected.count - 1]])
        #expect(PairedSHA256.digests(of: []).isEmpty)
    }
}
