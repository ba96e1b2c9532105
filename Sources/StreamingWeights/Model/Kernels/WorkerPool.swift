import Foundation
import Synchronization

/// Threads kept ready for the kernels' parallel regions.
///
/// A forward pass runs a dozen parallel regions per layer, each a fraction of a millisecond;
/// waking threads through the system for each (as `concurrentPerform` does) cost more than a
/// tenth of the work on 2 cores. Workers here spin for a short while after each region, so
/// back-to-back regions start without a system call, then sleep on a condition variable so an
/// idle process uses no CPU. Every spin yields the core now and then: a streamed pass's receiver
/// and hasher share the cores with the workers, and a spinning thread that never yields holds a
/// core they, or a preempted worker the spinner waits for, need (with 2 compute threads on 2
/// cores, a streamed MiniLM pass used ~35 more core-ms spinning and its receive stage doubled).
final class WorkerPool: @unchecked Sendable {
    /// One worker per core beyond the caller's.
    static let shared = WorkerPool(workerCount: max(0, System.coreCount - 1))

    /// How long a worker spins for the next region before it sleeps.
    private static let spinNanoseconds: UInt64 = 200_000

    let workerCount: Int
    /// Incremented to publish a region; workers run each generation once.
    private let generation = Atomic<Int>(0)
    /// Workers that have not yet finished the current region (all take part, those past the
    /// region's thread count with nothing to do, so no worker is still reading a region's
    /// settings when the next one writes them).
    private let remaining = Atomic<Int>(0)
    /// Guards sleeping and waking.
    private let condition = NSCondition()
    /// One region at a time: a second caller meanwhile runs its work alone.
    private let regionLock = NSLock()
    /// The current region's work and thread count, written before `generation` is published
    /// (release) and read after it is seen (acquire).
    private var work: ((Int) -> Void)?
    private var threadCount = 0

    private init(workerCount: Int) {
        self.workerCount = workerCount
        for index in 0..<workerCount {
            let thread = Thread { [unowned self] in self.workerLoop(index: index + 1) }
            thread.name = "StreamingWeights compute \(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(i)` for i in `0..<threads`, `body(0)` on the caller, and returns when all are done.
    ///
    /// - Precondition: `threads <= workerCount + 1`.
    func run(threads: Int, _ body: (Int) -> Void) {
        precondition(threads <= workerCount + 1, "more threads than workers")
        guard threads > 1, regionLock.try() else {
            for index in 0..<threads { body(index) }
            return
        }
        defer { regionLock.unlock() }
        withoutActuallyEscaping(body) { body in
            work = body
            threadCount = threads
            remaining.store(workerCount, ordering: .relaxed)
            condition.lock()
            generation.add(1, ordering: .releasing)
            condition.broadcast()
            condition.unlock()
            body(0)
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
            }
            work = nil
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var spinStart: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                guard spins & 1023 == 0 else { continue }
                sched_yield()
                let now = DispatchTime.now().uptimeNanoseconds
                if spinStart == 0 {
                    spinStart = now
                } else if now - spinStart > Self.spinNanoseconds {
                    condition.lock()
                    while generation.load(ordering: .acquiring) == seen { condition.wait() }
                    condition.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            if index < threadCount, let work {
                work(index)
            }
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
