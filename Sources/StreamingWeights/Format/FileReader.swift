#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads files in fixed-size blocks, for work that streams over a file of any size.
public enum FileReader {
    /// The block size used when none is given: large enough to amortise the system call, small
    /// enough to stay in cache.
    public static let defaultBlockSize = 1 << 20

    /// Calls `body` with each successive block of the file at `path`; the last may be shorter.
    ///
    /// - Throws: ``FileError`` naming the path, or what `body` throws.
    public static func forEachBlock(
        ofFileAtPath path: String,
        blockSize: Int = defaultBlockSize,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        precondition(blockSize > 0, "block size must be positive")
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError.lastError(path: path, operation: "open") }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 64)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return }
        while true {
            let count = read(descriptor, base, blockSize)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileError.lastError(path: path, operation: "read") }
            guard count > 0 else { return }
            try body(UnsafeRawBufferPointer(start: base, count: count))
        }
    }
}
