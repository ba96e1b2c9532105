#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ByteStorage {
    /// The contents of the file at `path`, memory-mapped when `memoryMapped` is true (the bytes
    /// are then paged in as they are read, and never copied), else read into memory.
    ///
    /// The file must not be changed while the storage is alive: a mapped file that shrinks under
    /// its reader faults the process, which is why chunk files are only ever replaced by rename.
    /// - Throws: ``FileError`` naming the path.
    public static func contentsOfFile(atPath path: String, memoryMapped: Bool = true) throws -> ByteStorage {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError.lastError(path: path, operation: "open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw FileError.lastError(path: path, operation: "stat") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw FileError(path: path, operation: "read", code: EISDIR) }
        let size = Int(status.st_size)
        guard size > 0 else { return ByteStorage(baseAddress: nil, count: 0, ownership: .none) }
        if memoryMapped {
            let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
            guard let address, address != MAP_FAILED else { throw FileError.lastError(path: path, operation: "map") }
            return ByteStorage(baseAddress: UnsafeRawPointer(address), count: size, ownership: .mapped)
        }
        return try ByteStorage(count: size) { buffer in
            guard let base = buffer.baseAddress else { return }
            var filled = 0
            while filled < size {
                let result = read(descriptor, base + filled, size - filled)
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else {
                    throw result == 0
                        ? FileError(path: path, operation: "read (file shrank while reading)", code: EIO)
                        : FileError.lastError(path: path, operation: "read")
                }
                filled += result
            }
        }
    }
}
