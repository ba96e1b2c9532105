import Dispatch

/// Runs blocking work (a libcurl transfer, a file read) on a Dispatch thread and awaits it, so
/// it never holds one of Swift concurrency's few cooperative threads (two on a 2-core machine),
/// where it would stall every other task: cache hits behind S3 reads, the forward pass behind
/// a download.
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
            continuation.resume(with: Result { try work() })
        }
    }
}
