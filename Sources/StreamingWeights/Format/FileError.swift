#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file operation the operating system refused, with the path and the reason it gave.
public struct FileError: Error, Hashable, CustomStringConvertible {
    /// The file involved.
    public let path: String
    /// What was being done: `open`, `read`, `write`, `rename`, ...
    public let operation: String
    /// The `errno` value.
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// Captures the current `errno`.
    static func lastError(path: String, operation: String) -> FileError {
        FileError(path: path, operation: operation, code: errno)
    }

    public var description: String {
        "cannot \(operation) '\(path)': \(String(cString: strerror(code)))"
    }
}
