import Foundation

/// An ``LRUCache`` that loads what it lacks, once per key however many callers ask at once.
///
/// A caller that asks for a key being loaded awaits that load instead of starting another
/// (in-flight de-duplication). A failed load is not cached: every waiter gets its error, and
/// the next request loads again.
public final class LoadingCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// How a request was answered.
    public enum Outcome: Sendable, Equatable {
        /// From the cache.
        case hit
        /// By awaiting a load that another request had started.
        case joined
        /// By a load of its own.
        case loaded
    }

    /// The counts of each outcome so far.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var joined = 0
        public var loads = 0
        public var failedLoads = 0
    }

    public let storage: LRUCache<Key, Value>
    private let cost: @Sendable (Value) -> Int
    /// The loads in flight and the counters.
    private let state = Locked<(inFlight: [Key: Task<Value, any Error>], counts: Statistics)>(([:], Statistics()))

    /// Where loads run (`nil`: Swift's global executor).
    private let executor: (any TaskExecutor)?

    /// A cache holding at most `capacity` in total `cost`, whose loads run on `executor`.
    public init(capacity: Int, executor: (any TaskExecutor)? = nil, cost: @escaping @Sendable (Value) -> Int) {
        storage = LRUCache(capacity: capacity)
        self.executor = executor
        self.cost = cost
    }

    /// The value for `key`, from the cache, from a load in flight, or from `load`.
    ///
    /// - Throws: what `load` throws.
    public func value(
        for key: Key, load: @escaping @Sendable () async throws -> Value
    ) async throws -> (value: Value, outcome: Outcome) {
        switch start(key, load: load) {
        case .cached(let value): return (value, .hit)
        case .loading(let task, let outcome): return (try await task.value, outcome)
        }
    }

    /// Whether `key` is cached or loading.
    public func isCachedOrLoading(_ key: Key) -> Bool {
        state.withLock { $0.inFlight[key] != nil } || storage.contains(key)
    }

    public var statistics: Statistics { state.withLock { $0.counts } }

    private enum Start {
        case cached(Value)
        case loading(Task<Value, any Error>, Outcome)
    }

    private func start(_ key: Key, load: @escaping @Sendable () async throws -> Value) -> Start {
        state.withLock { state in
            if let value = storage.value(for: key) {
                state.counts.hits += 1
                return .cached(value)
            }
            if let task = state.inFlight[key] {
                state.counts.joined += 1
                return .loading(task, .joined)
            }
            state.counts.loads += 1
            let task = Task(executorPreference: executor) { [self] in
                do {
                    let value = try await load()
                    self.state.withLock { state in
                        storage.insert(value, for: key, cost: cost(value))
                        state.inFlight[key] = nil
                    }
                    return value
                } catch {
                    self.state.withLock { state in
                        state.counts.failedLoads += 1
                        state.inFlight[key] = nil
                    }
                    throw error
                }
            }
            state.inFlight[key] = task
            return .loading(task, .loaded)
        }
    }
}
