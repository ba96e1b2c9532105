import Dispatch

/// Runs tasks on a Dispatch queue of their own instead of Swift's cooperative pool.
///
/// The cooperative pool has one thread per core; a server whose requests ran there would stop
/// answering whenever something else in the process (a test, a caller's blocking call) held
/// those threads. Tasks started with `Task(executorPreference:)` on this executor, and their
/// child tasks, run on the queue's threads instead, which Dispatch adds as work waits.
final class DispatchTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    /// An executor over a concurrent queue labelled `label`.
    init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated, attributes: .concurrent)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
