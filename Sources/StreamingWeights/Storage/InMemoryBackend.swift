import Foundation

/// Objects in memory, for tests and for small chunk sets that never touch a disk.
public final class InMemoryBackend: StorageBackend, Sendable {
    private let objects = Locked<[String: [UInt8]]>([:])

    public init() {}

    public var location: String { "memory" }

    public func read(_ key: String) async throws -> ByteStorage {
        try StorageError.validate(key)
        guard let bytes = objects.withLock({ $0[key] }) else {
            throw StorageError.notFound(key: key, location: location)
        }
        return ByteStorage(bytes)
    }

    public func read(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        try StorageError.validate(key)
        guard let bytes = objects.withLock({ $0[key] }) else {
            throw StorageError.notFound(key: key, location: location)
        }
        guard range.lowerBound >= 0, range.upperBound <= bytes.count else {
            throw StorageError.rangeOutOfBounds(key: key, range: range, size: bytes.count)
        }
        return Array(bytes[range])
    }

    public func size(of key: String) async throws -> Int? {
        try StorageError.validate(key)
        return objects.withLock { $0[key]?.count }
    }

    public func list(prefix: String) async throws -> [String] {
        objects.withLock { $0.keys.filter { $0.hasPrefix(prefix) }.sorted() }
    }

    public func delete(_ key: String) async throws {
        try StorageError.validate(key)
        _ = objects.withLock { $0.removeValue(forKey: key) }
    }

    public func writer(for key: String) async throws -> any StorageWriter {
        try StorageError.validate(key)
        return Writer(backend: self, key: key)
    }

    private final class Writer: StorageWriter {
        let backend: InMemoryBackend
        let key: String
        var bytes: [UInt8] = []

        init(backend: InMemoryBackend, key: String) {
            self.backend = backend
            self.key = key
        }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            self.bytes.append(contentsOf: bytes)
        }

        func commit() throws {
            backend.objects.withLock { $0[key] = bytes }
        }
    }
}
