#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Large buffers kept for reuse instead of being given back to the system.
///
/// A streamed forward pass receives each layer into a buffer of the chunk's size and packs it
/// into buffers of the packed size, then frees them a layer later, and every pass does the same.
/// Memory fresh from the system costs a page fault and a zeroed page per 4 KiB on first touch
/// (a quarter of a streamed pass's receiving and packing, measured); memory freed back to
/// glibc's heaps is not returned to the system, so the resident size grows. The pool hands out
/// page-aligned mappings of its own and keeps the freed ones, up to ``retainedLimit`` bytes, for
/// the next request of a size they fit.
public final class BufferPool: Sendable {
    /// Memory from a pool, given back to it when the last reference goes.
    public final class Memory: @unchecked Sendable {
        /// The first byte, aligned to 64 bytes at least.
        public let base: UnsafeMutableRawPointer
        /// The bytes asked for.
        public let count: Int
        /// The bytes mapped (`count` rounded up to whole pages); 0 for a small buffer, which
        /// is an ordinary allocation.
        let capacity: Int
        private let pool: BufferPool

        fileprivate init(base: UnsafeMutableRawPointer, count: Int, capacity: Int, pool: BufferPool) {
            self.base = base
            self.count = count
            self.capacity = capacity
            self.pool = pool
        }

        deinit { pool.giveBack(base, capacity: capacity) }

        /// The bytes asked for.
        public var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }
    }

    /// The pool the library's streaming path uses.
    public static let shared = BufferPool(retainedLimit: 256 << 20)

    /// Requests smaller than this are ordinary allocations, not pooled: small buffers are cheap
    /// and malloc reuses them well.
    public static let minimumPooled = 1 << 20

    private struct State {
        var limit: Int
        /// Free mappings, oldest first.
        var free: [(base: UnsafeMutableRawPointer, capacity: Int)] = []
        var freeBytes = 0
        var reused = 0
        var mapped = 0
    }

    private let state: Locked<State>

    /// A pool keeping at most `retainedLimit` bytes of free buffers.
    public init(retainedLimit: Int) {
        state = Locked(State(limit: retainedLimit))
    }

    deinit {
        state.withLock { state in
            for buffer in state.free { munmap(buffer.base, buffer.capacity) }
        }
    }

    /// The most bytes of free buffers kept for reuse; lowering it unmaps the oldest at once.
    public var retainedLimit: Int {
        get { state.withLock { $0.limit } }
        set {
            let dropped = state.withLock { state in
                state.limit = newValue
                return Self.trim(&state)
            }
            for buffer in dropped { munmap(buffer.base, buffer.capacity) }
        }
    }

    /// How many requests a kept buffer served, and how many needed a new mapping.
    public var counts: (reused: Int, mapped: Int) { state.withLock { ($0.reused, $0.mapped) } }

    /// `count` bytes, 64-byte aligned (page-aligned from ``minimumPooled`` on).
    ///
    /// A free buffer of the pool that fits (no more than an eighth larger), else a new mapping;
    /// below ``minimumPooled``, an ordinary allocation. Their contents are unspecified.
    public func take(_ count: Int) -> Memory {
        precondition(count >= 0, "negative byte count")
        guard count >= Self.minimumPooled else {
            let base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
            return Memory(base: base, count: count, capacity: 0, pool: self)
        }
        let capacity = Self.roundedToPages(count)
        let kept = state.withLock { state -> (base: UnsafeMutableRawPointer, capacity: Int)? in
            // The smallest free buffer that fits, so a large one stays for a large request.
            var best: Int?
            for (index, buffer) in state.free.enumerated()
            where buffer.capacity >= capacity && buffer.capacity - capacity <= capacity / 8 {
                if best.map({ buffer.capacity < state.free[$0].capacity }) ?? true { best = index }
            }
            guard let best else {
                state.mapped += 1
                return nil
            }
            let buffer = state.free.remove(at: best)
            state.freeBytes -= buffer.capacity
            state.reused += 1
            return buffer
        }
        if let kept { return Memory(base: kept.base, count: count, capacity: kept.capacity, pool: self) }
        return Memory(base: Self.map(capacity), count: count, capacity: capacity, pool: self)
    }

    /// Keeps a pooled buffer (`capacity` > 0) for reuse; frees a small one.
    fileprivate func giveBack(_ base: UnsafeMutableRawPointer, capacity: Int) {
        guard capacity > 0 else { return base.deallocate() }
        let dropped = state.withLock { state in
            state.free.append((base, capacity))
            state.freeBytes += capacity
            return Self.trim(&state)
        }
        for buffer in dropped { munmap(buffer.base, buffer.capacity) }
    }

    /// Removes the oldest free buffers until the rest fit the limit; returns them to unmap.
    private static func trim(_ state: inout State) -> [(base: UnsafeMutableRawPointer, capacity: Int)] {
        var dropped: [(base: UnsafeMutableRawPointer, capacity: Int)] = []
        while state.freeBytes > state.limit, !state.free.isEmpty {
            let oldest = state.free.removeFirst()
            state.freeBytes -= oldest.capacity
            dropped.append(oldest)
        }
        return dropped
    }

    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    private static func roundedToPages(_ count: Int) -> Int { (count + pageSize - 1) / pageSize * pageSize }

    /// A new anonymous mapping of `capacity` bytes, with transparent huge pages asked for where
    /// the system offers them (one fault per 2 MiB instead of per 4 KiB).
    private static func map(_ capacity: Int) -> UnsafeMutableRawPointer {
        guard let base = mmap(nil, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            base != MAP_FAILED
        else {
            fatalError("out of memory: mapping \(capacity) bytes failed (errno \(errno))")
        }
        #if os(Linux)
            _ = madvise(base, capacity, MADV_HUGEPAGE)
        #endif
        return base
    }
}
