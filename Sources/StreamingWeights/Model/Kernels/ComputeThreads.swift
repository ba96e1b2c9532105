#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many threads the kernels split their work over, and the split itself.
///
/// Work below ``minimumWorkPerThread`` (in multiply-adds) runs on the calling thread: waking a
/// second thread costs more than small matrices take (and on a loaded 2-core machine two
/// threads can be slower than one).
public struct ComputeThreads: Sendable {
    /// The number of threads, at least 1.
    public let count: Int
    /// The least work worth a thread of its own.
    public let minimumWorkPerThread: Int

    /// - Parameter count: the threads to use; `nil` means one per core.
    public init(count: Int? = nil, minimumWorkPerThread: Int = 1 << 18) {
        self.count = min(max(1, count ?? System.coreCount), System.coreCount)
        self.minimumWorkPerThread = minimumWorkPerThread
    }

    /// One thread: everything runs on the caller.
    public static let single = ComputeThreads(count: 1)

    /// Calls `body` with disjoint ranges that cover `0..<itemCount`, on up to ``count`` threads,
    /// and returns when all are done.
    ///
    /// - Parameter work: the total work, in multiply-adds, deciding how many threads are worth it.
    public func forEachRange(of itemCount: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let threads = min(count, itemCount, max(1, work / minimumWorkPerThread))
        guard threads > 1 else {
            if itemCount > 0 { body(0..<itemCount) }
            return
        }
        WorkerPool.shared.run(threads: threads) { thread in
            let start = itemCount * thread / threads
            let end = itemCount * (thread + 1) / threads
            if start < end { body(start..<end) }
        }
    }
}
