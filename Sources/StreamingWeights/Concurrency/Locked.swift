import Foundation

/// A value behind a lock: `Synchronization.Mutex`'s `withLock`, over a pthread mutex.
///
/// ThreadSanitizer understands pthread mutexes but not `Mutex`'s futex on Linux: it reported
/// every access guarded by a `Mutex` as a race (a two-thread counter reproduces it), which
/// would hide real ones. So the library's shared state uses this.
package final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value, holding the lock.
    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
