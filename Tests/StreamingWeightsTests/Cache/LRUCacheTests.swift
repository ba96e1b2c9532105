import Foundation
import StreamingWeights
import Synchronization
import Testing

@Suite("LRU caches")
struct LRUCacheTests {
    @Test("The least recently used value goes first, a hit refreshes recency, cost bounds the total")
    func eviction() {
        let cache = LRUCache<String, Int>(capacity: 10)
        cache.insert(1, for: "a", cost: 4)
        cache.insert(2, for: "b", cost: 4)
        #expect(cache.value(for: "a") == 1)
        #expect(cache.insert(3, for: "c", cost: 4) == ["b"])
        #expect(cache.keysByRecency == ["a", "c"])
        #expect(cache.totalCost == 8)
        #expect(cache.insert(4, for: "d", cost: 11) == [])
        #expect(cache.value(for: "d") == nil)
        #expect(cache.insert(5, for: "e", cost: 10) == ["a", "c"])
        #expect(cache.keysByRecency == ["e"] && cache.count == 1)
        cache.removeValue(for: "e")
        #expect(cache.totalCost == 0 && cache.keysByRecency.isEmpty)
        cache.insert(6, for: "f", cost: 3)
        cache.insert(7, for: "g", cost: 3)
        _ = cache.value(for: "f")
        #expect(cache.removeLeastRecentlyUsed() == "g")
        #expect(cache.keysByRecency == ["f"] && cache.totalCost == 3)
        #expect(cache.removeLeastRecentlyUsed() == "f")
        #expect(cache.removeLeastRecentlyUsed() == nil && cache.totalCost == 0)
    }

    @Test("Many concurrent requests for one key load it once; a failed load is not cached")
    func loadsOnce() async throws {
        let cache = LoadingCache<String, [UInt8]>(capacity: 1 << 20) { $0.count }
        final class Counter: Sendable { let loads = Atomic<Int>(0) }
        let counter = Counter()
        let outcomes = try await withThrowingTaskGroup(of: LoadingCache<String, [UInt8]>.Outcome.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await cache.value(for: "layer_0") {
                        counter.loads.add(1, ordering: .relaxed)
                        try await Task.sleep(nanoseconds: 50_000_000)
                        return [1, 2, 3]
                    }.outcome
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counter.loads.load(ordering: .relaxed) == 1)
        #expect(outcomes.filter { $0 == .loaded }.count == 1)
        #expect(try await cache.value(for: "layer_0") { [9] }.outcome == .hit)

        struct Broken: Error {}
        await #expect(throws: Broken.self) { _ = try await cache.value(for: "x") { throw Broken() } }
        #expect(try await cache.value(for: "x") { [7] }.outcome == .loaded)
        #expect(cache.statistics.failedLoads == 1)
    }

    @Test("A byte budget runs tasks that fit together, one over-large task alone, in the order asked")
    func byteBudget() async throws {
        let budget = ByteBudget(limit: 100)
        final class Tracker: Sendable {
            let held = Atomic<Int>(0)
            let order = Mutex<[String]>([])
            /// What each task found running when it started.
            let joined = Mutex<[String: Int]>([:])
        }
        let tracker = Tracker()
        // Each task starts only after the one before has asked, so the asking order is known.
        let tasks: [(String, Int)] = [("a", 60), ("b", 30), ("c", 150), ("d", 40), ("e", 70)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, bytes) in tasks {
                group.addTask {
                    try await budget.run(bytes: bytes) {
                        tracker.order.withLock { $0.append(name) }
                        let before = tracker.held.add(bytes, ordering: .relaxed).oldValue
                        tracker.joined.withLock { $0[name] = before }
                        try await Task.sleep(nanoseconds: 30_000_000)
                        tracker.held.subtract(bytes, ordering: .relaxed)
                    }
                }
                try await Task.sleep(nanoseconds: 5_000_000)
            }
            try await group.waitForAll()
        }
        // a and b fit together; c (over the limit) waits until nothing runs, and d, though it
        // would fit beside a and b, waits behind c; then d and e go.
        #expect(tracker.order.withLock { $0 } == ["a", "b", "c", "d", "e"])
        #expect(tracker.joined.withLock { $0 } == ["a": 0, "b": 60, "c": 0, "d": 0, "e": 0])
    }
}
