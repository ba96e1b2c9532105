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
}
