import Foundation
import StreamingWeights
import Testing

/// The inputs with which `scripts/fuzz` crashed a harness, kept in fuzz/seeds/NAME/crash-* (every
/// fuzz run replays them too), each now refused with an error.
@Suite("Inputs that crashed a fuzz harness")
struct FuzzRegressionTests {
    private func input(_ relative: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Repository.path("fuzz/seeds/" + relative))))
    }

    @Test("A ZIP whose central directory offset overflows when its size is added is refused, not a trap")
    func zipOffsetOverflow() throws {
        let bytes = try input("pickle/crash-zip-offset-overflow")
        #expect(throws: PyTorchCheckpointError.self) {
            _ = try PyTorchCheckpoint(storage: ByteStorage(bytes), source: "crash-zip-offset-overflow")
        }
    }

    @Test("A pickle whose BINUNICODE8 length is near Int.max is refused as ending early, not a trap")
    func pickleLengthOverflow() throws {
        let bytes = try input("pickle/crash-binunicode8-length-overflow")
        #expect(bytes[0] == 0x80 && bytes.contains(0x8d))
        #expect {
            _ = try PyTorchCheckpoint(storage: ByteStorage(bytes), source: "crash-binunicode8-length-overflow")
        } throws: { error in
            "\(error)".contains("the pickle ends early")
        }
    }

    @Test("An S3 XML body with a prefixed name and bytes that are not UTF-8 is unreadable, not a crash")
    func s3XMLPrefixedName() throws {
        let bytes = try input("s3xml/crash-foundation-prefixed-name")
        #expect(bytes.count == 49)
        #expect(S3XML(bytes) == nil)
    }
}
