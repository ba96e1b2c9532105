import ArgumentParser
import Foundation
import StreamingWeights

/// Deterministic token ids: `[CLS]`, `seq - 2` ordinary tokens, `[SEP]`, `batch` times.
func syntheticBatch(seq: Int, batch: Int = 1) -> EncodedBatch {
    var ids: [Int32] = []
    for _ in 0..<batch {
        ids.append(101)
        for i in 1..<(seq - 1) { ids.append(Int32(1000 + (i * 7919) % 20000)) }
        ids.append(102)
    }
    return EncodedBatch(
        batchSize: batch, sequenceLength: seq, inputIDs: ids, tokenTypeIDs: Array(repeating: 0, count: ids.count),
        attentionMask: Array(repeating: 1, count: ids.count))
}

func elapsedSeconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

struct StreamingForwardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streaming-forward",
        abstract:
            "Forward latency and cold start streamed from a weight server, against the same chunks loaded locally."
    )

    @Option(
        help:
            "Where to stream from: a weight server's ws:// URL, or s3://, http(s):// (credentials and endpoint from the AWS environment)."
    )
    var server: String

    @Option(help: "The chunk directory the server serves (for the local reference).")
    var chunksDir: String

    @Option(help: "Sequence length.")
    var seq = 128

    @Option(help: "Layers kept in the client's cache.")
    var cacheSize = 2

    @Option(help: "Layers fetched ahead.")
    var prefetch = 1

    @Option(help: "Compute threads.")
    var threads = 1

    @Option(help: "Seconds to measure each for, in all.")
    var seconds = 3.0

    @Option(
        help:
            "Rounds of local then streamed passes, `seconds / rounds` each: the ratio is the median of the rounds' ratios, so a change in the machine's load between two measurements moves one round, not the figure."
    )
    var rounds = 3

    @Option(help: "Cold starts to measure each (the median is reported).")
    var coldRuns = 5

    @Option(help: "The weight server's process id, to report its core time per pass (from /proc).")
    var serverPid: Int32?

    func run() async throws {
        let batch = syntheticBatch(seq: seq)
        let computeThreads = ComputeThreads(count: threads)
        // Cold: the model and its tokenizer from storage, then one forward pass (the streamed
        // model fetches its tokenizer files too); each `coldRuns` times, alternating, with a new
        // connection each time, and the medians reported, since one sample swings by tens of ms.
        var localColds: [Double] = []
        var streamedColds: [Double] = []
        var streamedInits: [Double] = []
        var models: (local: BertModel, streamed: StreamingBertModel)?
        for _ in 0..<coldRuns {
            var start = DispatchTime.now().uptimeNanoseconds
            let local = try await BertModel(loadingFrom: RemoteTensorSource(chunkDirectory: chunksDir))
            _ = try TokenizerLoader.load(
                directory: chunksDir, maximumPositions: local.configuration.maximumSequenceLength)
            _ = try await local.forward(batch, threads: computeThreads)
            localColds.append(elapsedSeconds(since: start))
            start = DispatchTime.now().uptimeNanoseconds
            let streamed = try await StreamingBertModel(
                source: server, cacheSize: cacheSize, prefetchDepth: prefetch)
            streamedInits.append(elapsedSeconds(since: start))
            _ = try await streamed.forward(batch, threads: computeThreads)
            streamedColds.append(elapsedSeconds(since: start))
            models?.streamed.source.transport.close()
            models = (local, streamed)
        }
        guard let (local, streamed) = models else { throw ValidationError("--cold-runs must be at least 1") }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        // Where the steady state's core time goes: this process's stages and total, and the
        // server's total, summed over the streamed rounds only.
        var stageMs: [Stage: Double] = [:]
        var (clientTotal, serverTotal, waitTotal) = (0.0, 0.0, 0.0)
        // Layers the streamed passes took from fetches (not from the cache): a fetch may end in
        // another round than the pass that takes it (the prefetch runs on between rounds), so the
        // bytes a pass needs are its fetched layers' average size as stored, not what arrived
        // during the rounds.
        var fetchedLayersUsed = 0.0
        let layerCount = Double(streamed.configuration.layerCount)
        let layerSizes = (0..<streamed.configuration.layerCount).compactMap {
            streamed.source.manifest.chunks["layer_\($0)"]?.size
        }
        let layerBytes = layerSizes.isEmpty ? 0 : Double(layerSizes.reduce(0, +)) / Double(layerSizes.count)
        func cacheHits(_ stats: StreamingBertModel.InferenceStats) -> Double {
            stats.cacheHitRate * Double(stats.totalInferences) * layerCount
        }
        var localTimes: [Double] = []
        var streamedTimes: [Double] = []
        var roundMedians: (local: [Double], streamed: [Double]) = ([], [])
        for _ in 0..<rounds {
            let localRound = try await measure(seconds: seconds / Double(rounds)) {
                _ = try await local.forward(batch, threads: computeThreads)
            }
            let (stagesBefore, clientBefore) = (StageClock.milliseconds, StageClock.processMilliseconds)
            let serverBefore = try serverPid.map(Self.coreMilliseconds(of:))
            let statsBefore = streamed.inferenceStats
            var times: [Double] = []
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds / Double(rounds) * 1e9)
            while times.count < 5 || DispatchTime.now().uptimeNanoseconds < deadline {
                let before = DispatchTime.now().uptimeNanoseconds
                _ = try await streamed.forward(batch, threads: computeThreads)
                times.append(elapsedSeconds(since: before) * 1000)
            }
            clientTotal += StageClock.processMilliseconds - clientBefore
            if let serverPid { serverTotal += try Self.coreMilliseconds(of: serverPid) - (serverBefore ?? 0) }
            for (stage, milliseconds) in StageClock.milliseconds {
                stageMs[stage, default: 0] += milliseconds - (stagesBefore[stage] ?? 0)
            }
            let stats = streamed.inferenceStats
            waitTotal += stats.layerWaitTime - statsBefore.layerWaitTime
            fetchedLayersUsed +=
                Double(stats.totalInferences - statsBefore.totalInferences) * layerCount
                - (cacheHits(stats) - cacheHits(statsBefore))
            roundMedians.local.append(median(localRound))
            roundMedians.streamed.append(median(times))
            localTimes += localRound
            streamedTimes += times
        }
        let passes = Double(streamedTimes.count)
        let clientMs = clientTotal / passes
        let serverMs = serverPid.map { _ in serverTotal / passes }
        let stats = streamed.inferenceStats
        var perPass: [String: Double] = ["client": clientMs]
        for stage in [Stage.receive, .hash, .decode, .pack] {
            perPass[stage.description] = (stageMs[stage] ?? 0) / passes
        }
        let localMs = median(localTimes)
        // Compute is the local pass's time on the same threads; what the client spends beyond
        // the measured stages and compute is the rest (allocation, page faults, scheduling).
        perPass["compute"] = localMs * Double(threads)
        perPass["client_other"] =
            clientMs
            - [Stage.receive, .hash, .decode, .pack].reduce(localMs * Double(threads)) {
                $0 + (perPass[$1.description] ?? 0)
            }
        if let serverMs { perPass["server"] = serverMs }
        // Two processes on this machine's cores: a pass cannot be shorter than its compute, nor
        // than the core time of both sides spread over every core.
        let floorMs = max(localMs, (clientMs + (serverMs ?? 0)) / Double(System.coreCount))
        try printJSON([
            "local_ms": localMs, "streamed_ms": median(streamedTimes), "round_local_ms": roundMedians.local,
            "round_streamed_ms": roundMedians.streamed,
            "local_cold_s": median(localColds), "streamed_cold_s": median(streamedColds),
            "streamed_init_s": median(streamedInits), "cold_runs": coldRuns,
            "layer_fetches": stats.layerFetches,
            "prefetch_hits": stats.prefetchHits, "runs": streamedTimes.count,
            "wait_ms_per_pass": waitTotal * 1000 / passes,
            "bytes_per_pass": layerBytes * fetchedLayersUsed / passes,
            "core_ms_per_pass": perPass, "floor_ms": floorMs, "cores": System.coreCount,
            "hash": DigestAlgorithm.blake3Implementation,
            "digest": streamed.source.manifest.chunks["layer_0"].map { "\($0.digest.algorithm)" } ?? "",
        ])
    }
}

extension StreamingForwardBench {
    /// Core milliseconds process `pid` has used (user and system), from /proc/PID/stat.
    static func coreMilliseconds(of pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The fields after the command name (which may hold spaces) in parentheses: utime and
        // stime are the 12th and 13th of them, in clock ticks.
        guard let close = stat.lastIndex(of: ")") else { throw ValidationError("cannot read /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw ValidationError("cannot read /proc/\(pid)/stat")
        }
        return (user + system) * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

struct PullBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Clients at once, each fetching every chunk of a server's manifest and checking its SHA-256."
    )

    @Option(
        help:
            "Where to stream from: a weight server's ws:// URL, or s3://, http(s):// (credentials and endpoint from the AWS environment)."
    )
    var server: String

    @Option(help: "Clients, each with its own connection.")
    var clients = 32

    func run() async throws {
        let url = server
        let start = DispatchTime.now().uptimeNanoseconds
        let bytes = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let client = WeightClient(configuration: WeightClient.Configuration(url: url))
                    defer { client.close() }
                    let manifestBytes = try await client.get(.manifest).payload
                    let manifest = try ChunkManifest(json: manifestBytes.withUnsafeBytes { Array($0) }, source: url)
                    var total = 0
                    for name in manifest.orderedChunkNames {
                        guard let expected = manifest.chunks[name]?.digest else { continue }
                        let object = try await client.get(.get, name: name, algorithm: expected.algorithm)
                        guard object.payloadDigest == expected else {
                            throw ValidationError("\(name) failed its checksum")
                        }
                        total += object.header.length
                    }
                    return total
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = elapsedSeconds(since: start)
        try printJSON([
            "clients": clients, "bytes": bytes, "seconds": elapsed, "mb_per_s": Double(bytes) / elapsed / 1e6,
        ])
    }
}

struct SoakClients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak-clients",
        abstract:
            "Clients streaming a model from a weight server in a loop, with random cache sizes, each output checked against the local model's."
    )

    @Option(
        help:
            "Where to stream from: a weight server's ws:// URL, or s3://, http(s):// (credentials and endpoint from the AWS environment)."
    )
    var server: String

    @Option(help: "The chunk directory the server serves (for the local model's outputs).")
    var chunksDir: String

    @Option(help: "Clients at once.")
    var clients = 16

    @Option(help: "Seconds to run for.")
    var seconds = 60.0

    func run() async throws {
        let tokenizer = try TokenizerLoader.load(directory: chunksDir)
        let texts = ["A weight server under load.", "Every output is checked.", "short"]
        let batch = try tokenizer.encodeBatch(texts.map { try tokenizer.encode($0) })
        let local = try await BertModel(loadingFrom: RemoteTensorSource(chunkDirectory: chunksDir))
        let expected = try await local.forward(batch)
        let layerCount = local.configuration.layerCount
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let url = server
        // Per client: forward passes checked, passes whose output differed, errors (by text).
        let results = try await withThrowingTaskGroup(of: (Int, Int, [String]).self) { group in
            for client in 0..<clients {
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    var (passes, wrong, errors) = (0, 0, [String]())
                    while DispatchTime.now().uptimeNanoseconds < deadline {
                        let cacheSize = Int.random(in: 1...layerCount, using: &generator)
                        let prefetch = Int.random(in: 0...2, using: &generator)
                        do {
                            let model = try await StreamingBertModel(
                                serverURL: url, cacheSize: cacheSize, prefetchDepth: prefetch)
                            defer { model.source.transport.close() }
                            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                                let output = try await model.forward(batch)
                                passes += 1
                                if output.lastHiddenState != expected.lastHiddenState
                                    || output.poolerOutput != expected.poolerOutput
                                {
                                    wrong += 1
                                }
                            }
                        } catch {
                            errors.append("client \(client), cache \(cacheSize), prefetch \(prefetch): \(error)")
                        }
                    }
                    return (passes, wrong, errors)
                }
            }
            return try await group.reduce(into: [(Int, Int, [String])]()) { $0.append($1) }
        }
        try printJSON([
            "clients": clients, "seconds": seconds, "forward_passes": results.map(\.0).reduce(0, +),
            "wrong_outputs": results.map(\.1).reduce(0, +), "errors": results.flatMap(\.2),
        ])
    }
}
