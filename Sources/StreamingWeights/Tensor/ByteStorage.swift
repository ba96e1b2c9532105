#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if _endian(big)
    #error("StreamingWeights stores tensors little-endian and has not been written for big-endian machines.")
#endif

/// Immutable bytes that tensors share without copying: heap memory, or a memory-mapped file.
///
/// A `ByteStorage` owns its memory and releases it when the last tensor or file that refers to it
/// goes away. It is never written after it is created, which is what makes it safe to share
/// across tasks.
public final class ByteStorage: @unchecked Sendable {
    /// How the memory was obtained, and so how it is given back.
    enum Ownership {
        case allocated
        case mapped
        case none
        /// Bytes of a Swift array kept alive, read through the array itself.
        case array(ArraySlice<UInt8>)
        /// A buffer of a ``BufferPool``, given back when the storage goes.
        case pooled(BufferPool.Memory)
    }

    /// The first byte; `nil` only when `count` is zero.
    let baseAddress: UnsafeRawPointer?
    /// The number of bytes.
    public let count: Int
    private let ownership: Ownership

    init(baseAddress: UnsafeRawPointer?, count: Int, ownership: Ownership) {
        self.baseAddress = baseAddress
        self.count = count
        self.ownership = ownership
    }

    /// Copies `bytes` into new storage.
    public convenience init(_ bytes: some Collection<UInt8>) {
        self.init(count: bytes.count) { buffer in
            buffer.copyBytes(from: bytes)
        }
    }

    /// Shares `bytes` without copying them (a received message, for instance); the array is
    /// kept, unchanged, for as long as the storage lives.
    public convenience init(keeping bytes: ArraySlice<UInt8>) {
        self.init(baseAddress: nil, count: bytes.count, ownership: .array(bytes))
    }

    /// The first `count` bytes of `memory`, which the caller filled and no longer writes.
    public convenience init(pooled memory: BufferPool.Memory, count: Int) {
        precondition(count >= 0 && count <= memory.count, "byte count outside the buffer")
        self.init(
            baseAddress: count > 0 ? UnsafeRawPointer(memory.base) : nil, count: count, ownership: .pooled(memory))
    }

    /// Allocates `count` bytes and lets `initialize` fill them, the only time they can be written.
    public convenience init(
        count: Int,
        initializingWith initialize: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows {
        precondition(count >= 0, "negative byte count")
        guard count > 0 else {
            self.init(baseAddress: nil, count: 0, ownership: .none)
            return
        }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        do {
            try initialize(UnsafeMutableRawBufferPointer(start: memory, count: count))
        } catch {
            memory.deallocate()
            throw error
        }
        self.init(baseAddress: UnsafeRawPointer(memory), count: count, ownership: .allocated)
    }

    deinit {
        guard let baseAddress else { return }
        switch ownership {
        case .allocated:
            UnsafeMutableRawPointer(mutating: baseAddress).deallocate()
        case .mapped:
            munmap(UnsafeMutableRawPointer(mutating: baseAddress), count)
        case .none, .array, .pooled:
            break
        }
    }

    /// Lets the system drop the pages of a memory-mapped file that were read so far.
    ///
    /// They are read again from the file if touched. Does nothing for memory that is not a
    /// mapping. The contents do not change: this only bounds how much of a large file stays resident
    /// while it is read part by part.
    public func releasePages(in range: Range<Int>? = nil) {
        guard case .mapped = ownership, let baseAddress else { return }
        let range = range ?? 0..<count
        // Only whole pages inside the range: a neighbour's data may share the edge pages.
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page
        let end = range.upperBound / page * page
        guard start < end else { return }
        madvise(UnsafeMutableRawPointer(mutating: baseAddress + start), end - start, MADV_DONTNEED)
    }

    /// Calls `body` with the bytes in `range`, which must lie within the storage.
    public func withUnsafeBytes<Result>(
        in range: Range<Int>? = nil,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) rethrows -> Result {
        let range = range ?? 0..<count
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "byte range outside the storage")
        if case .array(let bytes) = ownership {
            return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
        guard let baseAddress else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: baseAddress + range.lowerBound, count: range.count))
    }
}
