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
            /// What each task found held when it started.
            let started = Locked<[String: Int]>([:])
            let released = Locked<Set<String>>([])
            func hasStarted(_ name: String) -> Bool { started.withLock { $0[name] != nil } }
        }
        let tracker = Tracker()
        /// Waits up to 10 s for `condition`.
        func eventually(_ condition: () -> Bool) async throws -> Bool {
            for _ in 0..<1000 where !condition() { try await Task.sleep(nanoseconds: 10_000_000) }
            return condition()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            func start(_ name: String, _ bytes: Int) {
                group.addTask {
                    try await budget.run(bytes: bytes) {
                        let before = tracker.held.add(bytes, ordering: .relaxed).oldValue
                        tracker.started.withLock { $0[name] = before }
                        while !tracker.released.withLock({ $0.contains(name) }) {
                            try await Task.sleep(nanoseconds: 1_000_000)
                        }
                        tracker.held.subtract(bytes, ordering: .relaxed)
                    }
                }
            }
            func release(_ names: String...) { tracker.released.withLock { $0.formUnion(names) } }
            start("a", 60)
            #expect(try await eventually { tracker.hasStarted("a") })
            start("b", 30)
            #expect(try await eventually { tracker.hasStarted("b") }, "b fits beside a")
            start("c", 150)
            #expect(try await eventually { tracker.started.withLock { $0.count } == 2 })
            start("d", 10)
            // d would fit beside a and b, but asked after c, which waits for everything to end.
            try await Task.sleep(nanoseconds: 100_000_000)
            #expect(!tracker.hasStarted("c") && !tracker.hasStarted("d"))
            release("a", "b")
            #expect(try await eventually { tracker.hasStarted("c") }, "c, over the limit, runs alone")
            try await Task.sleep(nanoseconds: 100_000_000)
            #expect(!tracker.hasStarted("d"))
            release("c")
            #expect(try await eventually { tracker.hasStarted("d") })
            release("d")
            try await group.waitForAll()
        }
        #expect(tracker.started.withLock { $0 } == ["a": 0, "b": 60, "c": 0, "d": 0])
    }
}
