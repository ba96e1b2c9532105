import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Objects as files under a root directory.
///
/// Keys are validated (``StorageError/validate(_:)``) and resolved paths must stay under the
/// root even through symbolic links, so no key reads or writes outside it. Writes go through
/// ``FileWriter``: a temporary file renamed into place.
public struct FileSystemBackend: StorageBackend {
    /// The root directory, as given.
    public let root: String
    /// Whether writes wait until the object is on disk (see ``FileWriter``).
    public let durable: Bool
    public var location: String { "directory '\(root)'" }

    /// A backend over `root`, which is created when `create` is true and it does not exist.
    ///
    /// - Throws: ``StorageError/unusableRoot(location:reason:)`` when `root` is a file or cannot be created.
    public init(root: String, create: Bool = false, durable: Bool = false) throws {
        self.root = root
        self.durable = durable
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StorageError.unusableRoot(
                    location: "directory '\(root)'", reason: "it is a file, not a directory")
            }
        } else if create {
            do {
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            } catch {
                throw StorageError.unusableRoot(
                    location: "directory '\(root)'", reason: "it cannot be created (\(Self.reason(error)))")
            }
        } else {
            throw StorageError.unusableRoot(location: "directory '\(root)'", reason: "it does not exist")
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError {
            return String(cString: strerror(Int32(posix.code)))
        }
        return (error as NSError).localizedDescription
    }

    /// The path of `key`, after checking that it and the existing part of its directory stay
    /// under the root.
    func path(of key: String) throws -> String {
        try StorageError.validate(key)
        let path = (root as NSString).appendingPathComponent(key)
        let realRoot = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        // Resolve the deepest existing ancestor (or the file itself): a symlink anywhere on the
        // way must not lead out of the root.
        var existing = path
        while !FileManager.default.fileExists(atPath: existing), existing != root, existing != "/" {
            existing = (existing as NSString).deletingLastPathComponent
        }
        let resolved = URL(fileURLWithPath: existing).resolvingSymlinksInPath().path
        guard resolved == realRoot || resolved.hasPrefix(realRoot + "/") else {
            throw StorageError.invalidKey(key, reason: "it leads outside \(location) through a symbolic link")
        }
        return path
    }

    public func read(_ key: String) async throws -> ByteStorage {
        let path = try path(of: key)
        guard FileManager.default.fileExists(atPath: path) else {
            throw StorageError.notFound(key: key, location: location)
        }
        return try ByteStorage.contentsOfFile(atPath: path)
    }

    public func read(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        let storage = try await read(key)
        guard range.lowerBound >= 0, range.upperBound <= storage.count else {
            throw StorageError.rangeOutOfBounds(key: key, range: range, size: storage.count)
        }
        return storage.withUnsafeBytes(in: range) { Array($0) }
    }

    public func size(of key: String) async throws -> Int? {
        let path = try path(of: key)
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(status.st_size)
    }

    public func list(prefix: String) async throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var keys: [String] = []
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = (root as NSString).appendingPathComponent(relative)
            if relative.hasPrefix(prefix), FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory),
                !isDirectory.boolValue, !relative.contains(".partial-")
            {
                keys.append(relative)
            }
        }
        return keys.sorted()
    }

    public func delete(_ key: String) async throws {
        let path = try path(of: key)
        guard unlink(path) == 0 || errno == ENOENT else { throw FileError.lastError(path: path, operation: "delete") }
    }

    public func writer(for key: String) async throws -> any StorageWriter {
        let path = try path(of: key)
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw FileError(path: directory, operation: "create directory", code: EACCES)
            }
        }
        return try FileWriter(path: path, durable: durable)
    }
}

extension FileWriter: StorageWriter {}
