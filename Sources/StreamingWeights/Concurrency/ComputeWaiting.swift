import Synchronization

/// Whether a computation of this process is waiting for data it cannot go on without (a
/// streamed pass waiting for its next layer): while one is, a core it would use is idle.
///
/// A weight client's reader hashes what it receives on its own thread, while the bytes are in
/// its cache, and hands the hashing to a thread beside it only while a pass waits: receiving
/// and hashing then take a core each, where otherwise the extra thread would take turns with
/// the computation's.
public enum ComputeWaiting {
    private static let waiters = Atomic<Int>(0)

    /// Runs `body`, a wait of the computation for its data.
    public static func during<T>(_ body: () async throws -> T) async rethrows -> T {
        waiters.add(1, ordering: .relaxed)
        defer { waiters.subtract(1, ordering: .relaxed) }
        return try await body()
    }

    /// Whether a computation waits now.
    public static var isWaiting: Bool { waiters.load(ordering: .relaxed) > 0 }
}
