/// Lets a value the caller knows to be safe cross a concurrency boundary: pointers to memory
/// that each thread uses disjointly, or an object whose own locking the compiler cannot see.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
