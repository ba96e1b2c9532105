/// Bounds the bytes held by concurrent tasks: a task runs once its bytes fit beside those
/// already running (or when nothing runs, however large it is), in the order the tasks asked.
public actor ByteBudget {
    /// The bytes that may be held at once.
    public let limit: Int
    private var used = 0
    private var waiters: [(bytes: Int, resume: CheckedContinuation<Void, Never>)] = []

    public init(limit: Int) {
        self.limit = limit
    }

    /// Runs `body` once `bytes` fit, holding them until it returns or throws.
    public func run<T: Sendable>(bytes: Int, _ body: @Sendable () async throws -> T) async throws -> T {
        if !waiters.isEmpty || !fits(bytes) {
            await withCheckedContinuation { waiters.append((bytes, $0)) }
        } else {
            used += bytes
        }
        defer { release(bytes) }
        return try await body()
    }

    private func fits(_ bytes: Int) -> Bool { used == 0 || used + bytes <= limit }

    /// Returns `bytes` and starts the waiting tasks that now fit, first come first served.
    private func release(_ bytes: Int) {
        used -= bytes
        while let first = waiters.first, fits(first.bytes) {
            waiters.removeFirst()
            used += first.bytes
            first.resume.resume()
        }
    }
}
