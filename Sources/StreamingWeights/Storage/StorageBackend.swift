/// Where chunk sets are stored: a local directory, memory, or (issue 5) an S3 bucket.
///
/// Keys are relative, `/`-separated names such as `layer_0.safetensors`. Every write is atomic:
/// an object appears under its key only when ``StorageWriter/commit()`` succeeds, so a reader
/// never sees half an object and an interrupted chunker leaves nothing under a final name.
public protocol StorageBackend: ChunkObjectReader {
    /// Where the objects are, for messages: a directory path or a URL.
    var location: String { get }

    /// The whole object.
    ///
    /// - Throws: ``StorageError/notFound(key:location:)`` or an I/O error naming the key.
    func read(_ key: String) async throws -> ByteStorage

    /// The object's bytes in `range`.
    ///
    /// - Throws: ``StorageError/rangeOutOfBounds(key:range:size:)`` when the range reaches past the end.
    func read(_ key: String, range: Range<Int>) async throws -> [UInt8]

    /// The object's size in bytes, or `nil` when there is no such object.
    func size(of key: String) async throws -> Int?

    /// The keys that start with `prefix`, sorted.
    func list(prefix: String) async throws -> [String]

    /// Removes the object; removing a missing object is not an error.
    func delete(_ key: String) async throws

    /// Starts writing `key`: bytes streamed to the writer appear under the key on commit.
    func writer(for key: String) async throws -> any StorageWriter
}

/// An object being written.
///
/// Dropped without ``commit()``, it leaves nothing behind.
public protocol StorageWriter: AnyObject {
    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the object visible under its key, replacing any previous one.
    func commit() throws
}

extension StorageBackend {
    /// Writes `bytes` as the whole object `key`.
    public func write(_ bytes: some Collection<UInt8>, to key: String) async throws {
        let writer = try await writer(for: key)
        try Array(bytes).withUnsafeBytes { try writer.write($0) }
        try writer.commit()
    }

    /// Whether the object exists.
    public func exists(_ key: String) async throws -> Bool {
        try await size(of: key) != nil
    }
}

/// What a storage backend could not do, naming the key and the store.
public enum StorageError: Error, Hashable, CustomStringConvertible {
    /// A key that could escape the store or is not a plain relative name.
    case invalidKey(String, reason: String)
    /// No object under the key.
    case notFound(key: String, location: String)
    /// A byte range past the end of the object.
    case rangeOutOfBounds(key: String, range: Range<Int>, size: Int)
    /// The store's root is missing or not a directory.
    case unusableRoot(location: String, reason: String)

    public var description: String {
        switch self {
        case .invalidKey(let key, let reason):
            "invalid storage key \(key.debugDescription): \(reason)"
        case .notFound(let key, let location):
            "'\(key)' does not exist in \(location)"
        case .rangeOutOfBounds(let key, let range, let size):
            "bytes \(range.lowerBound)..<\(range.upperBound) of '\(key)' are past its end (\(size) bytes)"
        case .unusableRoot(let location, let reason):
            "cannot use \(location): \(reason)"
        }
    }

    /// Checks that `key` is a relative name that stays inside the store: non-empty segments,
    /// none `.` or `..`, no leading `/`, no backslash or NUL.
    public static func validate(_ key: String) throws {
        guard !key.isEmpty else { throw StorageError.invalidKey(key, reason: "it is empty") }
        guard !key.hasPrefix("/") else { throw StorageError.invalidKey(key, reason: "it is an absolute path") }
        guard !key.utf8.contains(0) else { throw StorageError.invalidKey(key, reason: "it contains a NUL byte") }
        guard !key.contains("\\") else { throw StorageError.invalidKey(key, reason: "it contains a backslash") }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            guard !segment.isEmpty else { throw StorageError.invalidKey(key, reason: "it has an empty path segment") }
            guard segment != "." && segment != ".." else {
                throw StorageError.invalidKey(key, reason: "it has a '\(segment)' segment")
            }
        }
    }
}
