import Dispatch

/// The encoder layers of a chunk set, fetched as a forward pass reaches them.
///
/// ``cacheSize`` layers stay in memory, least recently used out first; while layer i computes,
/// layers i+1 ... i+``prefetchDepth`` are fetched, wrapping around to the next pass's first
/// layers (a model is run again and again: a pass should not start by waiting for layer 0). A
/// prefetched layer waits outside the cache until the pass takes it, and a held layer the pass
/// is about to need is pinned, so neither can be evicted before its turn; before a prefetch
/// starts, the least recently used unpinned layers go (they would go when the prefetched one is
/// used anyway), so at most ``cacheSize`` + ``prefetchDepth`` layers are held, counting those on
/// their way. A layer on its way is awaited, never fetched twice.
///
/// Prefetching goes on past ``prefetchDepth`` while that bound leaves room: with fewer cache
/// slots than layers, a slot holding a layer the pass has used keeps it only until the cycle
/// evicts it, before its next use, so the slot serves better holding a layer the pass is about
/// to reach (what the optimal policy, evicting the layer needed furthest ahead, does). With
/// cache 2 and prefetch 1, two layers are on their way while one computes, in the same memory
/// and the same bytes per pass as before, so a pass no longer waits each time one layer's fetch
/// outlasts one layer's compute; and the fetching goes on between passes (the embeddings, the
/// pooling, the caller's own work) into the next pass's first layers. The price: a last pass
/// leaves up to ``cacheSize`` + ``prefetchDepth`` - 1 layers fetched and unused, not
/// ``prefetchDepth``.
///
/// This one type owns residency, behind one lock: what is held and in what order, what is on its
/// way, and the counts of both.
final class StreamedLayers: LayerProvider {
    /// What is held and on its way, and the counts the statistics are made of.
    private struct Residency {
        /// Held layers, least recently used first; a pinned one is needed within the next
        /// ``prefetchDepth`` layers and is not evicted until the pass has taken it.
        var held: [(index: Int, layer: BertLayer, pinned: Bool)] = []
        /// Layers being fetched, and whether ahead of the pass (a prefetch) or for a request now.
        var fetching: [Int: (task: Task<BertLayer, any Error>, ahead: Bool)] = [:]
        var requests = 0
        var cacheHits = 0
        var prefetchHits = 0
        var fetches = 0
        /// Seconds counted requests waited for a layer on its way.
        var waitSeconds = 0.0

        /// Makes `layer` the most recently used (and unpinned), dropping the least recently used
        /// unpinned ones past `capacity`.
        mutating func hold(_ index: Int, _ layer: BertLayer, capacity: Int) {
            held.removeAll { $0.index == index }
            held.append((index, layer, false))
            while held.count > capacity, evictLeastRecentlyUsed() {}
        }

        /// Drops the least recently used unpinned layer; false when every held layer is pinned.
        mutating func evictLeastRecentlyUsed() -> Bool {
            guard let position = held.firstIndex(where: { !$0.pinned }) else { return false }
            held.remove(at: position)
            return true
        }

        var aheadCount: Int { fetching.values.filter(\.ahead).count }
    }

    let count: Int
    let cacheSize: Int
    let prefetchDepth: Int
    private let residency = Locked(Residency())
    private let load: @Sendable (Int) async throws -> BertLayer

    /// Layers `0..<count` built by `load`; the first ones (as many as may be held) start
    /// fetching at once when prefetching is on, since they are the first a pass needs.
    init(count: Int, cacheSize: Int, prefetchDepth: Int, load: @escaping @Sendable (Int) async throws -> BertLayer) {
        precondition(cacheSize >= 1 && prefetchDepth >= 0, "cacheSize must be at least 1, prefetchDepth at least 0")
        self.count = count
        self.cacheSize = cacheSize
        self.prefetchDepth = prefetchDepth
        self.load = load
        let early = prefetchDepth == 0 ? 0 : min(cacheSize + prefetchDepth, count)
        residency.withLock { residency in
            for index in 0..<early {
                residency.fetching[index] = (Task { try await load(index) }, true)
                residency.fetches += 1
            }
        }
    }

    /// Stops the fetches in flight (the model failed to load).
    func cancel() {
        residency.withLock { residency in
            for (task, _) in residency.fetching.values { task.cancel() }
        }
    }

    func layer(_ index: Int) async throws -> BertLayer {
        if prefetchDepth > 0 {
            let reach = min(cacheSize + prefetchDepth, count) - 1
            for offset in stride(from: 1, through: reach, by: 1) {
                prefetch((index + offset) % count, ifRoom: offset > prefetchDepth)
            }
        }
        return try await layer(index, counted: true)
    }

    /// Fetches `indices` into the cache now (at most ``cacheSize`` stay), not counted as requests.
    func warmup(_ indices: [Int]) async throws {
        for index in indices where (0..<count).contains(index) {
            _ = try await layer(index, counted: false)
        }
    }

    /// Starts fetching layer `index` ahead of the pass, after making room; pins it when it is
    /// held; nothing when it is on its way, or (`ifRoom`) when every layer held or on its way
    /// is needed before it.
    private func prefetch(_ index: Int, ifRoom: Bool) {
        residency.withLock { residency in
            guard residency.fetching[index] == nil else { return }
            if let position = residency.held.firstIndex(where: { $0.index == index }) {
                residency.held[position].pinned = true
                return
            }
            // A prefetch past the depth counts every layer on its way, so it never evicts a held
            // layer and then finds no room anyway.
            let room = cacheSize + prefetchDepth
            let onTheirWay = ifRoom ? residency.fetching.count : residency.aheadCount
            while residency.held.count + onTheirWay >= room, residency.evictLeastRecentlyUsed() {}
            if ifRoom, residency.held.count + onTheirWay >= room { return }
            let load = self.load
            residency.fetching[index] = (Task { try await load(index) }, true)
            residency.fetches += 1
        }
    }

    /// Layer `index`: held, prefetched, on its way, or fetched now; `counted` adds the request
    /// to the statistics.
    private func layer(_ index: Int, counted: Bool) async throws -> BertLayer {
        enum Found {
            case held(BertLayer)
            case fetching(Task<BertLayer, any Error>)
        }
        let found = residency.withLock { residency -> Found in
            if counted { residency.requests += 1 }
            if let (task, ahead) = residency.fetching[index] {
                if ahead {
                    // The pass takes its prefetched layer: it joins the cache once it is here.
                    residency.fetching[index] = (task, false)
                    if counted { residency.prefetchHits += 1 }
                }
                return .fetching(task)
            }
            if let position = residency.held.firstIndex(where: { $0.index == index }) {
                var entry = residency.held.remove(at: position)
                entry.pinned = false
                residency.held.append(entry)
                if counted { residency.cacheHits += 1 }
                return .held(entry.layer)
            }
            let load = self.load
            let task = Task { try await load(index) }
            residency.fetching[index] = (task, false)
            residency.fetches += 1
            return .fetching(task)
        }
        switch found {
        case .held(let layer):
            return layer
        case .fetching(let task):
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let layer = try await ComputeWaiting.during { try await task.value }
                let waited = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                residency.withLock { residency in
                    if residency.fetching[index]?.task == task { residency.fetching[index] = nil }
                    residency.hold(index, layer, capacity: cacheSize)
                    if counted { residency.waitSeconds += waited }
                }
                return layer
            } catch {
                residency.withLock { residency in
                    if residency.fetching[index]?.task == task { residency.fetching[index] = nil }
                }
                throw error
            }
        }
    }

    /// The indices held, least recently used first.
    var heldByRecency: [Int] { residency.withLock { $0.held.map(\.index) } }

    /// Requests, cache hits, prefetch hits, fetches, and seconds requests waited, so far.
    var counts: (requests: Int, cacheHits: Int, prefetchHits: Int, fetches: Int, waitSeconds: Double) {
        residency.withLock { ($0.requests, $0.cacheHits, $0.prefetchHits, $0.fetches, $0.waitSeconds) }
    }
}
