import Foundation

/// A least-recently-used cache bounded by the total cost of what it holds (bytes, or a count).
///
/// True LRU in O(1): a dictionary into a doubly linked list ordered by use. A value costlier than
/// the whole capacity is not kept. Safe from several threads.
public final class LRUCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private final class Node {
        let key: Key
        var value: Value
        var cost: Int
        var older: Node?
        weak var newer: Node?

        init(key: Key, value: Value, cost: Int) {
            self.key = key
            self.value = value
            self.cost = cost
        }
    }

    /// The nodes by key, linked from the most to the least recently used, and their total cost.
    private struct Entries {
        var nodes: [Key: Node] = [:]
        var newest: Node?
        var oldest: Node?
        var cost = 0

        mutating func link(_ node: Node) {
            node.older = newest
            node.newer = nil
            newest?.newer = node
            newest = node
            if oldest == nil { oldest = node }
        }

        mutating func unlink(_ node: Node) {
            if let newer = node.newer { newer.older = node.older } else { newest = node.older }
            if let older = node.older { older.newer = node.newer } else { oldest = node.newer }
            node.older = nil
            node.newer = nil
        }

        mutating func moveToNewest(_ node: Node) {
            guard newest !== node else { return }
            unlink(node)
            link(node)
        }

        /// Unlinks the least recently used node and returns its key.
        mutating func dropOldest() -> Key? {
            guard let victim = oldest else { return nil }
            unlink(victim)
            nodes[victim.key] = nil
            cost -= victim.cost
            return victim.key
        }
    }

    /// The most total cost held at once.
    public let capacity: Int
    private let entries = Locked(Entries())

    public init(capacity: Int) {
        self.capacity = capacity
    }

    /// The value for `key`, which becomes the most recently used; `nil` when absent.
    public func value(for key: Key) -> Value? {
        entries.withLock { entries in
            guard let node = entries.nodes[key] else { return nil }
            entries.moveToNewest(node)
            return node.value
        }
    }

    /// Whether `key` is held, without changing its recency.
    public func contains(_ key: Key) -> Bool { entries.withLock { $0.nodes[key] != nil } }

    /// Stores `value` as the most recently used and returns the keys evicted to make room.
    ///
    /// The least recently used values go until the total cost fits. A value costing more than the capacity is
    /// not stored (and evicts nothing).
    @discardableResult
    public func insert(_ value: Value, for key: Key, cost: Int) -> [Key] {
        entries.withLock { entries in
            guard cost <= capacity else { return [] }
            if let node = entries.nodes[key] {
                entries.cost += cost - node.cost
                node.value = value
                node.cost = cost
                entries.moveToNewest(node)
            } else {
                let node = Node(key: key, value: value, cost: cost)
                entries.nodes[key] = node
                entries.cost += cost
                entries.link(node)
            }
            var evicted: [Key] = []
            while entries.cost > capacity, let victim = entries.dropOldest() { evicted.append(victim) }
            return evicted
        }
    }

    /// Drops `key`, if held.
    public func removeValue(for key: Key) {
        entries.withLock { entries in
            guard let node = entries.nodes.removeValue(forKey: key) else { return }
            entries.unlink(node)
            entries.cost -= node.cost
        }
    }

    /// Drops the least recently used entry; its key, or nil when the cache is empty.
    public func removeLeastRecentlyUsed() -> Key? {
        entries.withLock { $0.dropOldest() }
    }

    /// The keys held, least recently used first.
    public var keysByRecency: [Key] {
        entries.withLock { entries in
            var keys: [Key] = []
            var node = entries.oldest
            while let current = node {
                keys.append(current.key)
                node = current.newer
            }
            return keys
        }
    }

    /// The total cost held.
    public var totalCost: Int { entries.withLock { $0.cost } }

    /// How many values are held.
    public var count: Int { entries.withLock { $0.nodes.count } }
}
