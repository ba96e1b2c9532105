#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A stage of the streaming path whose core time ``StageClock`` sums.
public enum Stage: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// A weight client's reader thread: socket reads, frame parsing, message assembly.
    case receive
    /// Hashing received bytes (the weight client's digest queue, a store's reader).
    case hash
    /// Turning a received chunk into tensors: gunzip, safetensors or `.pt` parsing.
    case decode
    /// Building a layer from its tensors: widening and packing the weights into panels.
    case pack
    /// A weight server writing a response to its socket.
    case send

    /// The name in reports: `receive`, `hash`, `decode`, `pack`, `send`.
    public var description: String {
        switch self {
        case .receive: "receive"
        case .hash: "hash"
        case .decode: "decode"
        case .pack: "pack"
        case .send: "send"
        }
    }
}

/// The core time spent in each ``Stage`` by this process since it started.
///
/// Core time is the CPU time of the threads doing the work, not wall time: what
/// `scripts/bench` splits a streamed pass's cost by. Reading a thread's CPU clock costs about a system call, so stages are measured per
/// fragment or per object, never per byte.
public enum StageClock {
    fileprivate static let totals = Locked([Int](repeating: 0, count: Stage.allCases.count))

    /// Runs `body`, adding the calling thread's CPU time during it to `stage`; time `body`
    /// spends in a nested `measure` counts for the nested stage only.
    public static func measure<T, E: Error>(_ stage: Stage, _ body: () throws(E) -> T) throws(E) -> T {
        let enclosing = nestedNanoseconds
        nestedNanoseconds = 0
        let start = threadNanoseconds()
        defer {
            let spent = threadNanoseconds() - start
            let nested = nestedNanoseconds
            totals.withLock { $0[stage.rawValue] += spent - nested }
            nestedNanoseconds = enclosing + spent
        }
        return try body()
    }

    /// The core time of a thread that runs one stage for long, between points it marks.
    ///
    /// For a weight client's reader thread, whose `receive()` returns only for some messages.
    /// Time in a nested ``StageClock/measure(_:_:)`` counts for that stage only.
    public struct Lap {
        private var start = StageClock.threadNanoseconds()
        private var nestedAtStart = StageClock.nestedNanoseconds

        /// Starts timing the calling thread.
        public init() {}

        /// Adds the calling thread's time since the last mark (or the start) to `stage`.
        public mutating func mark(_ stage: Stage) {
            let now = StageClock.threadNanoseconds()
            let nested = StageClock.nestedNanoseconds
            let spent = now - start - (nested - nestedAtStart)
            totals.withLock { $0[stage.rawValue] += spent }
            start = now
            nestedAtStart = nested
        }
    }

    /// The calling thread's time in stages measured inside the innermost `measure` running on it.
    fileprivate static var nestedNanoseconds: Int {
        get { Int(bitPattern: pthread_getspecific(nestedKey)) }
        set { pthread_setspecific(nestedKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    private static let nestedKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Core milliseconds spent in each stage so far.
    public static var milliseconds: [Stage: Double] {
        let values = totals.withLock { $0 }
        return Dictionary(uniqueKeysWithValues: Stage.allCases.map { ($0, Double(values[$0.rawValue]) / 1e6) })
    }

    /// Core milliseconds this whole process has used so far, user and system, every thread.
    public static var processMilliseconds: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func ms(_ time: timeval) -> Double { Double(time.tv_sec) * 1e3 + Double(time.tv_usec) / 1e3 }
        return ms(usage.ru_utime) + ms(usage.ru_stime)
    }

    fileprivate static func threadNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
}
