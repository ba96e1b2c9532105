import ArgumentParser
import Foundation
import StreamingWeights

/// Measures this library for scripts/bench.
///
/// scripts/bench prints the results next to the reference implementations'. Each subcommand
/// prints one JSON object.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streaming-weights-bench",
        abstract: "Measure StreamingWeights' kernels, forward pass and tokenizer (used by scripts/bench).",
        subcommands: [
            KernelsInfo.self, MatmulBench.self, ForwardBench.self, TokenizeBench.self, AccuracyBench.self, S3Bench.self,
            EchoServer.self,
            EchoClient.self, WebSocketThroughput.self, WebSocketLoad.self, StreamingForwardBench.self,
            PullBench.self, SoakClients.self, HashBench.self,
        ]
    )
}

/// Times `body` until about `seconds` have passed (at least `minimumRuns` times) and returns the
/// times in milliseconds.
func measure(seconds: Double, minimumRuns: Int = 5, _ body: () throws -> Void) rethrows -> [Double] {
    try body()
    var times: [Double] = []
    let start = DispatchTime.now().uptimeNanoseconds
    while times.count < minimumRuns || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
        let before = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - before) / 1e6)
    }
    return times.sorted()
}

/// ``measure(seconds:minimumRuns:_:)`` for an asynchronous body.
func measure(seconds: Double, minimumRuns: Int = 5, _ body: () async throws -> Void) async rethrows -> [Double] {
    try await body()
    var times: [Double] = []
    let start = DispatchTime.now().uptimeNanoseconds
    while times.count < minimumRuns || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds {
        let before = DispatchTime.now().uptimeNanoseconds
        try await body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - before) / 1e6)
    }
    return times.sorted()
}

func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

struct KernelsInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "The kernel sets this CPU runs, the one selected, and the CPU's model."
    )

    func run() throws {
        let selected = try KernelSet.selected()
        try printJSON([
            "supported": KernelSet.supported.map(\.name), "selected": selected.name, "cpu": KernelSet.cpuModel,
            "descriptions": Dictionary(uniqueKeysWithValues: KernelSet.supported.map { ($0.name, $0.description) }),
        ])
    }
}

struct HashBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "GB/s of BLAKE3 and SHA-256 over one buffer in memory, one thread, through the library."
    )

    @Option(help: "Bytes to hash (byte i is i % 251, as BLAKE3's test vectors).")
    var bytes = 43_000_000

    @Option(help: "Runs per algorithm; the best is reported.")
    var runs = 5

    func run() throws {
        let input = (0..<bytes).map { UInt8($0 % 251) }
        var results: [String: Any] = ["bytes": bytes, "blake3_path": DigestAlgorithm.blake3Implementation]
        for (name, algorithm) in [("blake3", DigestAlgorithm.blake3), ("sha256", .sha256)] {
            var best = Double.infinity
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                let digest = input.withUnsafeBytes { StreamingDigest.oneShot($0, algorithm) }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                results["\(name)_hex"] = digest.hexString
            }
            results["\(name)_gb_per_s"] = Double(bytes) / best / 1e9
        }
        // SHA-256 of two messages at once (the input and its reverse), as the chunker hashes its
        // chunks: the bytes of both per second.
        let reversed = Array(input.reversed())
        var best = Double.infinity
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            let digests = input.withUnsafeBytes { first in
                reversed.withUnsafeBytes { second in PairedSHA256.digests(of: [[first], [second]]) }
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard digests[0].hexString == results["sha256_hex"] as? String else {
                throw ValidationError("the paired SHA-256 differs from OpenSSL's")
            }
        }
        results["sha256_two_messages_gb_per_s"] = Double(2 * bytes) / best / 1e9
        results["sha256_pairs"] = PairedSHA256.pairs
        try printJSON(results)
    }
}

extension StreamingDigest {
    /// The digest of `bytes` in one update.
    fileprivate static func oneShot(_ bytes: UnsafeRawBufferPointer, _ algorithm: DigestAlgorithm) -> [UInt8] {
        let digest = StreamingDigest(algorithm)
        digest.update(bytes)
        return digest.finalize()
    }
}

struct MatmulBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matmul",
        abstract: "GFLOP/s of the packed matmul on MxKxN shapes (M rows, K depth, N output features)."
    )

    @Option(help: "Comma-separated MxKxN shapes.")
    var shapes = "128x384x384,128x384x1536,128x1536x384,8x128x128,128x128x512"

    @Option(help: "Threads.")
    var threads = 1

    @Option(help: "Seconds per shape.")
    var seconds = 0.3

    @Flag(help: "Also multiply by the weights as stored (how streamed float32 layers are used): A packed per call.")
    var stored = false

    func run() throws {
        let kernels = try KernelSet.selected()
        var results: [String: Any] = [:]
        for shape in shapes.split(separator: ",") {
            let parts = shape.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 3 else { throw ValidationError("shape '\(shape)' is not MxKxN") }
            let (rows, depth, columns) = (parts[0], parts[1], parts[2])
            let a = UnsafeMutablePointer<Float>.allocate(capacity: rows * depth)
            let weight = UnsafeMutablePointer<Float>.allocate(capacity: columns * depth)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: rows * columns)
            defer {
                a.deallocate()
                weight.deallocate()
                c.deallocate()
            }
            for index in 0..<(rows * depth) { a[index] = Float(index % 17) * 0.01 }
            for index in 0..<(columns * depth) { weight[index] = Float(index % 13) * 0.01 }
            let packed = PackedWeights(linearWeight: weight, outFeatures: columns, inFeatures: depth, for: kernels)
            let computeThreads = ComputeThreads(count: threads)
            let times = measure(seconds: seconds, minimumRuns: 20) {
                Matmul.multiply(
                    a, aStride: depth, rows: rows, by: packed.panels, bias: nil,
                    into: c, cStride: columns, threads: computeThreads)
            }
            let flops = 2 * Double(rows * depth * columns)
            var result = ["gflops_median": flops / times[times.count / 2] / 1e6, "gflops_best": flops / times[0] / 1e6]
            if stored {
                let bytes = columns * depth * 4
                let storage = ByteStorage(count: bytes) {
                    $0.copyMemory(from: UnsafeRawBufferPointer(start: weight, count: bytes))
                }
                let tensor = try Tensor(
                    dtype: .float32, shape: [columns, depth], storage: storage, byteRange: 0..<bytes)
                guard let weights = StoredWeights([tensor], inFeatures: depth, kernels: kernels) else {
                    throw ValidationError("the weights cannot be used as stored")
                }
                let storedTimes = measure(seconds: seconds, minimumRuns: 20) {
                    Matmul.multiply(
                        a, aStride: depth, rows: rows, byStored: weights, bias: nil,
                        into: c, cStride: columns, threads: computeThreads)
                }
                result["stored_gflops_median"] = flops / storedTimes[storedTimes.count / 2] / 1e6
            }
            results[String(shape)] = result
        }
        try printJSON(["threads": threads, "shapes": results, "kernels": kernels.name, "cpu": KernelSet.cpuModel])
    }
}

struct ForwardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Forward-pass latency of a local model on deterministic token ids."
    )

    @Option(help: "A model directory (config.json + model.safetensors) or a chunk directory.")
    var model: String

    @Option(help: "Sequence length, [CLS] and [SEP] included.")
    var seq = 128

    @Option(help: "Batch size.")
    var batch = 1

    @Option(help: "Threads.")
    var threads = 1

    @Option(help: "Seconds to measure for.")
    var seconds = 1.5

    func run() async throws {
        let source: any TensorSource =
            FileManager.default.fileExists(atPath: model + "/model.safetensors")
            ? try CheckpointTensorSource(directory: model) : try await RemoteTensorSource(chunkDirectory: model)
        let bert = try await BertModel(loadingFrom: source)
        let input = syntheticBatch(seq: seq, batch: batch)
        let computeThreads = ComputeThreads(count: threads)
        let times = try await measure(seconds: seconds) { _ = try await bert.forward(input, threads: computeThreads) }
        try printJSON([
            "ours": ["median_ms": times[times.count / 2], "min_ms": times[0]], "runs": times.count,
            "kernels": bert.kernels.name, "cpu": KernelSet.cpuModel,
        ])
    }
}

struct TokenizeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenizer throughput on a corpus, one line at a time, one thread."
    )

    @Option(help: "A directory with vocab.txt (and tokenizer_config.json / tokenizer.json).")
    var vocabDir: String

    @Option(help: "The corpus: one text per line (split on LF only).")
    var corpus: String

    @Option(help: "Seconds to measure for.")
    var seconds = 1.5

    func run() throws {
        let tokenizer = try TokenizerLoader.load(directory: vocabDir)
        guard let data = FileManager.default.contents(atPath: corpus) else {
            throw ValidationError("Cannot read --corpus '\(corpus)'.")
        }
        let lines = Array(data).split(separator: 0x0a, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }.filter { !$0.isEmpty }
        var tokens = 0
        let times = try measure(seconds: seconds) {
            tokens = 0
            for line in lines { tokens += try tokenizer.encode(line, truncating: false).ids.count }
        }
        let median = times[times.count / 2] / 1000
        let bytes = lines.reduce(0) { $0 + $1.utf8.count }
        try printJSON([
            "lines": lines.count, "tokens": tokens, "bytes": bytes,
            "lines_per_second": Double(lines.count) / median, "mb_per_second": Double(bytes) / median / 1e6,
        ])
    }
}

struct AccuracyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accuracy",
        abstract: "Largest differences from transformers' golden outputs (Fixtures/golden)."
    )

    @Option(help: "The model directory.")
    var model: String

    @Option(help: "The golden outputs (a safetensors file from scripts/make-fixtures).")
    var golden: String

    func run() async throws {
        let bert = try await BertModel(loadingFrom: CheckpointTensorSource(directory: model))
        let file = try SafetensorsFile(contentsOfFile: golden)
        var result: [String: Any] = [:]
        for prefix in ["", "pair_"] {
            let ids = try file.tensor(named: prefix + "input_ids")
            func int32(_ name: String) throws -> [Int32] {
                try file.tensor(named: prefix + name).integerValues().map { Int32($0) }
            }
            let batch = EncodedBatch(
                batchSize: ids.shape[0], sequenceLength: ids.shape[1], inputIDs: try int32("input_ids"),
                tokenTypeIDs: try int32("token_type_ids"), attentionMask: try int32("attention_mask"))
            let output = try await bert.forward(batch)
            let expected = try file.tensor(named: prefix + "last_hidden_state").floatValues()
            var worst: Float = 0
            for index in 0..<(batch.batchSize * batch.sequenceLength) where batch.attentionMask[index] != 0 {
                for j in 0..<output.hiddenSize {
                    let position = index * output.hiddenSize + j
                    worst = max(worst, abs(output.lastHiddenState[position] - expected[position]))
                }
            }
            result[prefix + "last_hidden_state_max_abs_diff"] = worst
            if let pooled = output.poolerOutput {
                let expectedPooled = try file.tensor(named: prefix + "pooler_output").floatValues()
                result[prefix + "pooler_output_max_abs_diff"] =
                    zip(pooled, expectedPooled).map { abs($0 - $1) }.max() ?? 0
            }
            if prefix.isEmpty, let sentences = try? file.tensor(named: "sentence_embedding").floatValues() {
                var lowest: Float = 1
                for item in 0..<batch.batchSize {
                    let ours = try output.embedding(ofRow: item, in: batch, pooling: .mean, normalize: true)
                    let theirs = sentences[(item * output.hiddenSize)..<((item + 1) * output.hiddenSize)]
                    lowest = min(lowest, zip(ours, theirs).reduce(0) { $0 + $1.0 * $1.1 })
                }
                result["sentence_embedding_min_cosine"] = lowest
            }
        }
        try printJSON(result)
    }
}

struct S3Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3",
        abstract: "Upload and download throughput of one object through the S3 backend."
    )

    @Option(help: "The S3-compatible endpoint.")
    var endpoint: String

    @Option(help: "The bucket.")
    var bucket: String

    @Option(help: "The region.")
    var region = "us-east-1"

    @Option(help: "The access key id.")
    var accessKey: String

    @Option(help: "The secret access key.")
    var secretKey: String

    @Option(help: "The object size in MiB.")
    var sizeMB = 100

    @Option(help: "Parallel ranged GETs for the download, and parts in flight for the upload.")
    var concurrency = 1

    @Option(help: "Objects over this many MiB are uploaded in parts.")
    var multipartThresholdMB = 16

    func run() async throws {
        var configuration = S3Backend.Configuration(
            bucket: bucket, prefix: "bench", region: region, endpoint: endpoint,
            credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secretKey))
        configuration.concurrency = concurrency
        configuration.multipartThreshold = multipartThresholdMB << 20
        let s3 = S3Backend(configuration: configuration)
        let bytes = (0..<(sizeMB << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        let uploadStart = DispatchTime.now().uptimeNanoseconds
        try await s3.write(bytes, to: "object.bin")
        let upload = Double(DispatchTime.now().uptimeNanoseconds - uploadStart) / 1e9
        let downloadStart = DispatchTime.now().uptimeNanoseconds
        let back = try await s3.read("object.bin")
        let download = Double(DispatchTime.now().uptimeNanoseconds - downloadStart) / 1e9
        guard back.count == bytes.count else {
            throw ValidationError("downloaded \(back.count) bytes, not \(bytes.count)")
        }
        try await s3.delete("object.bin")
        let megabytes = Double(bytes.count) / 1e6
        try printJSON([
            "upload_mb_per_s": megabytes / upload, "download_mb_per_s": megabytes / download,
            "concurrency": concurrency,
        ])
    }
}
