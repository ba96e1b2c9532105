/// The stored bytes a weight server holds for responses in flight (read from storage, or
/// being sent), counted once per object however many responses share it, against a budget.
///
/// A response takes a ``Reservation`` before its object is read; it is given back when the
/// reservation is released (after the response is sent, or dropped with a broken connection),
/// so no path can leak budget.
package final class InFlightBytes: Sendable {
    /// One response's hold on an object's bytes.
    package final class Reservation: Sendable {
        private let budget: InFlightBytes
        private let key: String

        fileprivate init(budget: InFlightBytes, key: String) {
            self.budget = budget
            self.key = key
        }

        deinit { budget.release(key) }
    }

    /// The bytes that may be held at once.
    package let limit: Int
    private let state = Locked<(total: Int, objects: [String: (bytes: Int, holders: Int)])>((0, [:]))

    package init(limit: Int) {
        self.limit = limit
    }

    /// A hold on object `key` of `bytes` bytes, or nil when holding it would pass the limit while
    /// other objects are held (an object already held, or any object when none is, always fits).
    package func reserve(_ key: String, bytes: Int) -> Reservation? {
        let granted = state.withLock { state -> Bool in
            if let held = state.objects[key] {
                state.objects[key] = (held.bytes, held.holders + 1)
                return true
            }
            guard state.total == 0 || state.total + bytes <= limit else { return false }
            state.objects[key] = (bytes, 1)
            state.total += bytes
            return true
        }
        return granted ? Reservation(budget: self, key: key) : nil
    }

    /// The bytes held now.
    package var held: Int { state.withLock { $0.total } }

    private func release(_ key: String) {
        state.withLock { state in
            guard let held = state.objects[key] else { return }
            if held.holders > 1 {
                state.objects[key] = (held.bytes, held.holders - 1)
            } else {
                state.objects[key] = nil
                state.total -= held.bytes
            }
        }
    }
}
