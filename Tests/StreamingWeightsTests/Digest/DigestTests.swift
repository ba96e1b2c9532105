import Foundation
import StreamingWeights
import Testing

@Suite("Digests over OpenSSL")
struct DigestTests {
    @Test("SHA-256 matches the FIPS 180-2 examples")
    func sha256Vectors() {
        #expect(
            Digest.sha256([UInt8]()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            Digest.sha256(Array("abc".utf8)).hexString
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            Digest.sha256([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)).hexString
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    @Test("SHA-1 matches the FIPS 180 example and gives RFC 6455's accept key")
    func sha1Vectors() {
        #expect(Digest.sha1(Array("abc".utf8)).hexString == "a9993e364706816aba3e25717850c26c9cd0d89d")
        let key = "dGhlIHNhbXBsZSBub25jZQ==" + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        #expect(Data(Digest.sha1(Array(key.utf8))).base64EncodedString() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test(
        "HMAC-SHA256 matches RFC 4231",
        arguments: [
            (
                Array(repeating: UInt8(0x0b), count: 20), Array("Hi There".utf8),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
            ),
            (
                Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
            ),
            (
                Array(repeating: UInt8(0xaa), count: 20), Array(repeating: UInt8(0xdd), count: 50),
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
            ),
            (
                Array(UInt8(1)...UInt8(25)), Array(repeating: UInt8(0xcd), count: 50),
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
            ),
            (
                Array(repeating: UInt8(0xaa), count: 131),
                Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
            ),
            (
                Array(repeating: UInt8(0xaa), count: 131),
                Array(
                    ("This is a test using a larger than block-size key and a larger than block-size data. "
                        + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
            ),
        ])
    func hmacVectors(key: [UInt8], message: [UInt8], expected: String) {
        #expect(Digest.hmacSHA256(key: key, message: message).hexString == expected)
    }

    @Test("A digest fed in pieces equals the one-shot digest")
    func streamingEqualsOneShot() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<100_003).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let streaming = StreamingDigest(.sha256)
        var offset = 0
        for size in [0, 1, 63, 64, 65, 4096, 30_000] {
            streaming.update(bytes[offset..<(offset + size)])
            offset += size
        }
        streaming.update(bytes[offset...])
        #expect(streaming.finalize() == Digest.sha256(bytes))
    }

    @Test("The digest of a file equals what sha256sum prints")
    func fileDigestMatchesSha256sum() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("blob")
        let bytes = (0..<(3 * FileReader.defaultBlockSize + 17)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try ProcessRunner.run("/usr/bin/sha256sum", [path])
        #expect(result.status == 0)
        let expected = String(result.outputText.prefix(64))
        #expect(try Digest.sha256(ofFileAtPath: path).hexString == expected)
    }

    @Test("Hashing a missing file names the file")
    func missingFile() {
        #expect {
            _ = try Digest.sha256(ofFileAtPath: "/nonexistent/chunk.safetensors")
        } throws: { error in
            "\(error)".contains("/nonexistent/chunk.safetensors") && "\(error)".contains("No such file")
        }
    }
}
