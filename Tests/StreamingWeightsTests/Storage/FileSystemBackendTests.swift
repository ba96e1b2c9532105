import Foundation
import StreamingWeights
import Testing

@Suite("The filesystem backend keeps every key inside its root")
struct FileSystemBackendTests {
    @Test("Objects round-trip, with ranges, sizes, listing and deletion")
    func roundTrip() async throws {
        let directory = try TemporaryDirectory()
        let backend = try FileSystemBackend(root: directory.path)
        try await backend.write(Array("hello, world".utf8), to: "a/b/c.txt")
        #expect(try await backend.read("a/b/c.txt").withUnsafeBytes { Array($0) } == Array("hello, world".utf8))
        #expect(try await backend.read("a/b/c.txt", range: 7..<12) == Array("world".utf8))
        #expect(try await backend.size(of: "a/b/c.txt") == 12)
        #expect(try await backend.size(of: "missing") == nil)
        try await backend.write([1, 2, 3], to: "a/d")
        #expect(try await backend.list(prefix: "a/") == ["a/b/c.txt", "a/d"])
        try await backend.delete("a/d")
        try await backend.delete("a/d")
        #expect(try await backend.list(prefix: "") == ["a/b/c.txt"])
        await #expect(throws: StorageError.rangeOutOfBounds(key: "a/b/c.txt", range: 10..<20, size: 12)) {
            _ = try await backend.read("a/b/c.txt", range: 10..<20)
        }
        await #expect(throws: StorageError.notFound(key: "nothing", location: backend.location)) {
            _ = try await backend.read("nothing")
        }
    }

    @Test(
        "Keys that could leave the root are refused",
        arguments: ["../x", "/etc/passwd", "a/../../b", "a\u{0}b", "", "a//b", "./a", "a\\b"])
    func escapingKeys(key: String) async throws {
        let directory = try TemporaryDirectory()
        let backend = try FileSystemBackend(root: directory.file("root"), create: true)
        await #expect(throws: StorageError.self) { try await backend.write([1], to: key) }
        await #expect(throws: StorageError.self) { _ = try await backend.read(key) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["root"])
    }

    @Test("A symbolic link that leads out of the root is refused for reading and writing")
    func symlinkEscape() async throws {
        let directory = try TemporaryDirectory()
        let root = directory.file("root")
        let outside = directory.file("outside")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: root + "/file", withDestinationPath: outside + "/secret.txt")
        let backend = try FileSystemBackend(root: root)
        await #expect(throws: StorageError.self) { _ = try await backend.read("link/secret.txt") }
        await #expect(throws: StorageError.self) { _ = try await backend.read("file") }
        await #expect(throws: StorageError.self) { try await backend.write([1], to: "link/new.txt") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["secret.txt"])
    }

    @Test("A root that is a file, or missing, is refused")
    func unusableRoot() throws {
        let directory = try TemporaryDirectory()
        try "x".write(toFile: directory.file("file"), atomically: true, encoding: .utf8)
        #expect(throws: StorageError.self) { _ = try FileSystemBackend(root: directory.file("file"), create: true) }
        #expect(throws: StorageError.self) { _ = try FileSystemBackend(root: directory.file("missing")) }
    }
}
