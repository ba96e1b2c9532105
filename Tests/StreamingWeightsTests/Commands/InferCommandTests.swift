import Foundation
import StreamingWeights
import Testing

/// The executables built beside the test bundle.
enum Executables {
    static func path(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    }
}

@Suite("infer")
struct InferCommandTests {
    static let tiny = Repository.path("Fixtures/bert-tiny")

    /// Reads the snake_case keys of infer's JSON.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static func infer(_ arguments: [String], input: String? = nil) throws -> ProcessResult {
        try ProcessRunner.run(Executables.path("infer"), arguments, input: input.map { Data($0.utf8) })
    }

    struct Document: Decodable {
        struct Result: Decodable {
            let text: String
            let tokens: [String]
            let inputIds: [Int32]
            let embedding: [Float]
            let lastHiddenState: [[Float]]?
            let poolerOutput: [Float]?
        }
        struct Stats: Decodable {
            let forwardPasses: Int
            let forwardMsMedian: Double
            let forwardMsMin: Double
        }
        let model: String
        let results: [Result]
        let stats: Stats
    }

    @Test("--json prints the documented shape, with transformers' hidden states for the golden sentences")
    func jsonMatchesGolden() throws {
        let golden = try GoldenOutputs("bert-tiny")
        let batch = try golden.batch()
        let states = try golden.floats("last_hidden_state")
        let pooled = try golden.floats("pooler_output")
        let sentences =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/golden/sentences.json"))))
            as? [String: Any]
        let texts = try #require(sentences?["sentences"] as? [String])
        let result = try Self.infer(["--model", Self.tiny, "--json", "--hidden", "--repeat", "3", "--"] + texts)
        #expect(result.status == 0, "\(result.standardError)")
        let document = try Self.decoder.decode(Document.self, from: result.standardOutput)
        #expect(document.model == "bert-tiny" && document.results.count == texts.count)
        #expect(document.stats.forwardPasses == 3 && document.stats.forwardMsMin <= document.stats.forwardMsMedian)
        for (item, entry) in document.results.enumerated() {
            let count = batch.tokenCount(ofRow: item)
            #expect(entry.text == texts[item])
            #expect(
                entry.inputIds
                    == Array(batch.inputIDs[(item * batch.sequenceLength)..<(item * batch.sequenceLength + count)]))
            #expect(entry.tokens.count == count && entry.tokens.first == "[CLS]" && entry.tokens.last == "[SEP]")
            let hidden = try #require(entry.lastHiddenState)
            #expect(hidden.count == count)
            let start = item * batch.sequenceLength * 128
            #expect(maximumDifference(hidden.flatMap { $0 }, Array(states[start..<(start + count * 128)])) <= 1e-4)
            #expect(maximumDifference(entry.embedding, Array(states[start..<(start + 128)])) <= 1e-4)
            #expect(
                maximumDifference(try #require(entry.poolerOutput), Array(pooled[(item * 128)..<((item + 1) * 128)]))
                    <= 1e-4)
        }
    }

    @Test("Text output shows the tokens and a short view of the embedding")
    func textOutput() throws {
        let result = try Self.infer(["--model", Self.tiny, "Hello, world!"])
        #expect(result.status == 0)
        let lines = result.outputText.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines[3] == "" && lines[4] == "")
        #expect(lines[0] == "text: Hello, world!")
        #expect(lines[1] == "tokens: [CLS] hello , world ! [SEP]")
        #expect(lines[2].hasPrefix("embedding (128, cls): [2.1285, 0.0905, -0.8413, -0.1678, ..., "))
    }

    @Test("Texts come one per line from --input or standard input; an empty line is a text")
    func inputFromFileAndStandardInput() throws {
        let directory = try TemporaryDirectory()
        try "first\n\nthird\n".write(toFile: directory.file("texts.txt"), atomically: true, encoding: .utf8)
        for arguments in [["--input", directory.file("texts.txt")], ["--input", "-"]] {
            let result = try Self.infer(["--model", Self.tiny, "--json"] + arguments, input: "first\n\nthird\n")
            #expect(result.status == 0, "\(result.standardError)")
            let document = try Self.decoder.decode(Document.self, from: result.standardOutput)
            #expect(document.results.map(\.text) == ["first", "", "third"])
            #expect(document.results[1].tokens == ["[CLS]", "[SEP]"])
        }
    }

    @Test("A chunk directory gives the same embeddings as the model directory; mean pooling is normalised on request")
    func chunkDirectoryAndPooling() async throws {
        let directory = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: directory.path)
        let arguments = ["--json", "--pooling", "mean", "--normalize", "a sentence", "another one"]
        let fromChunks = try Self.decoder.decode(
            Document.self, from: try Self.infer(["--chunks-dir", directory.path] + arguments).standardOutput)
        let fromModel = try Self.decoder.decode(
            Document.self, from: try Self.infer(["--model", Self.tiny] + arguments).standardOutput)
        #expect(fromChunks.results.map(\.embedding) == fromModel.results.map(\.embedding))
        #expect(fromChunks.model == "bert-tiny")
        for result in fromModel.results {
            #expect(abs(result.embedding.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        }
    }

    @Test(
        "--chunks-dir checks every file as --source DIR does: a changed chunk or manifest fails naming it",
        arguments: [
            ("a flipped byte", "layer_1.safetensors", 4000, [UInt8(0x01)]),
            ("256 overwritten bytes", "layer_0.safetensors", 2000, [UInt8](repeating: 0xff, count: 256)),
            ("a garbage manifest", "chunk_info.json", 0, Array("not json at all".utf8)),
        ])
    func chunksDirectoryIsVerified(damage: String, file: String, offset: Int, bytes: [UInt8]) async throws {
        let directory = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: directory.path)
        let path = directory.file(file)
        var contents = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        if file == ChunkManifest.fileName {
            contents = bytes
        } else {
            for (index, byte) in bytes.enumerated() { contents[offset + index] ^= byte }
        }
        try Data(contents).write(to: URL(fileURLWithPath: path))
        for option in ["--chunks-dir", "--source"] {
            let result = try Self.infer([option, directory.path, "--json", "Hello, world!"])
            #expect(result.status != 0, "\(damage) with \(option)")
            #expect(result.outputText.isEmpty, "\(damage) with \(option)")
            let named = file == ChunkManifest.fileName ? "chunk_info.json" : String(file.prefix { $0 != "." })
            #expect(result.standardError.contains(named), "\(damage) with \(option): \(result.standardError)")
            if file != ChunkManifest.fileName {
                #expect(result.standardError.contains("fails its checksum"), "\(result.standardError)")
            }
        }
    }

    @Test("A tokenizer file the manifest does not list is never read, with --chunks-dir or --source")
    func strayTokenizerIsIgnored() async throws {
        let directory = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: directory.path)
        let clean = try Self.infer(["--chunks-dir", directory.path, "--json", "Hello, world!"])
        // A tokenizer.json whose vocabulary would give other ids, were it read.
        let stray =
            #"{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2}}}"#
        try Data(stray.utf8).write(to: URL(fileURLWithPath: directory.file("tokenizer.json")))
        for option in ["--chunks-dir", "--source"] {
            let result = try Self.infer([option, directory.path, "--json", "Hello, world!"])
            #expect(result.status == 0, "\(result.standardError)")
            let ids = try Self.decoder.decode(Document.self, from: result.standardOutput).results.map(\.inputIds)
            #expect(ids == (try Self.decoder.decode(Document.self, from: clean.standardOutput).results.map(\.inputIds)))
        }
    }

    @Test("A model whose forward pass gives NaN fails naming the layer, with or without --json")
    func nonFiniteOutput() async throws {
        let model = try TemporaryDirectory()
        for name in ["config.json", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: "\(Self.tiny)/\(name)", toPath: model.file(name))
        }
        let checkpoint = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        var writer = SafetensorsWriter()
        for name in checkpoint.tensorNames {
            var tensor = try checkpoint.tensor(named: name)
            if name == "encoder.layer.1.output.dense.bias" {
                var values = try tensor.floatValues()
                values[3] = .infinity
                tensor = Tensor(float32: values, shape: tensor.shape)
            }
            try writer.add(tensor, named: name)
        }
        try writer.write(toFile: model.file("model.safetensors"))
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(model.path, into: chunks.path)
        for arguments in [["--model", model.path], ["--chunks-dir", chunks.path], ["--source", chunks.path]] {
            for format in [[], ["--json"]] {
                let result = try Self.infer(arguments + format + ["Hello, world!"])
                #expect(result.status != 0 && result.outputText.isEmpty)
                #expect(
                    result.standardError.contains(
                        "the forward pass produced NaN or infinite values, first in the output of layer_1"),
                    "\(result.standardError)")
            }
        }
    }

    @Test("A long text is truncated with a warning")
    func truncationWarning() throws {
        let text = Array(repeating: "word", count: 600).joined(separator: " ")
        let result = try Self.infer(["--model", Self.tiny, "--json", text])
        #expect(result.status == 0)
        #expect(result.standardError.contains("warning: truncated 90 tokens"))
        #expect(try Self.decoder.decode(Document.self, from: result.standardOutput).results[0].inputIds.count == 512)
    }

    @Test(
        "Bad invocations fail with one clear sentence and a non-zero status",
        arguments: [
            (["--model", "/nonexistent", "x"], "cannot read the model configuration '/nonexistent/config.json'"),
            (
                ["--model", Repository.path("Fixtures/bert-tiny"), "--pooling", "median", "x"],
                "The value 'median' is invalid for '--pooling <cls|mean|pooler|max|mean-sqrt-len|weighted-mean|last-token>'."
            ),
            (
                ["--model", Repository.path("Fixtures/bert-tiny"), "--input", "/nonexistent/texts.txt"],
                "Cannot read --input '/nonexistent/texts.txt'."
            ),
            (["--model", Repository.path("Fixtures/bert-tiny"), "--input", "-"], "No texts: the input is empty."),
            (
                ["--model", Repository.path("Fixtures/bert-tiny"), "--chunks-dir", "/tmp", "x"],
                "Give --chunks-dir or --model, not both."
            ),
            (
                ["--server", "ws://127.0.0.1:9", "x"],
                "no weight server answers at ws://127.0.0.1:9 (connect to 127.0.0.1:9 failed: Connection refused); start one with: weight-server --chunks-dir DIR"
            ),
            (
                ["--source", "http://127.0.0.1:9", "x"],
                "http://127.0.0.1:9/chunk_info.json: Couldn't connect to server"
            ),
            (
                ["--source", "ftp://127.0.0.1:9", "x"],
                "'ftp://127.0.0.1:9': the scheme 'ftp' is not supported; use ws://, wss://, s3://, http://, https:// or file://"
            ),
            (["--source", "s3://", "x"], "'s3://' names no bucket: write s3://BUCKET or s3://BUCKET/PREFIX"),
            (
                ["--source", "/nonexistent/chunks", "x"],
                "cannot use directory '/nonexistent/chunks': it does not exist"
            ),
            (
                ["x", "--source", "ws://127.0.0.1:9", "--server", "ws://127.0.0.1:9"],
                "Give --source or --server, not both."
            ),
            (
                ["x", "--model", Repository.path("Fixtures/bert-tiny"), "--hidden"],
                "--hidden adds to the JSON output: give it with --json."
            ),
            (
                ["x", "--server", "http://127.0.0.1:9"],
                "--server takes a weight server's ws:// or wss:// URL, not 'http://127.0.0.1:9': write --server ws://127.0.0.1:9 (or --source http://127.0.0.1:9 for a chunk directory behind an HTTP server)"
            ),
            (
                ["x", "--source", "ws://127.0.0.1:9", "--ca-file", "/tmp/ca.pem"],
                "--ca-file applies to wss:// and https:// sources, and 'ws://127.0.0.1:9' is not one: for TLS write wss://127.0.0.1:9"
            ),
            (
                ["--chunks-dir", Repository.path("Fixtures/bert-tiny"), "x"],
                "is a model directory (config.json and weights), not a chunk set (it has no chunk_info.json): load it with --model"
            ),
            (
                ["--source", "s3://bucket/prefix", "--s3-endpoint", "127.0.0.1:9", "x"],
                "the S3 endpoint '127.0.0.1:9' (from --s3-endpoint) is not http://HOST[:PORT] or https://HOST[:PORT]: write https://127.0.0.1:9, or http://127.0.0.1:9 for a store without TLS; nothing was sent"
            ),
        ])
    func badInvocations(arguments: [String], message: String) throws {
        let result = try Self.infer(arguments, input: "")
        #expect(result.status != 0)
        #expect(result.standardError.contains(message), "\(result.standardError)")
        if arguments.first == "--server" || arguments.first == "--source" {
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
        }
    }

    @Test("A text that looks like an option is an unknown option with a hint, not a request for help")
    func dashText() throws {
        for text in ["-dash", "-h1", "--dash"] {
            let result = try Self.infer(["--model", Self.tiny, text])
            #expect(result.status == 64 && result.outputText.isEmpty, "\(text)")
            #expect(result.standardError.hasPrefix("Error: Unknown option '\(text)'"), "\(result.standardError)")
            #expect(result.standardError.contains("A text that starts with a dash goes after --"))
        }
        let after = try Self.infer(["--model", Self.tiny, "--", "-dash"])
        #expect(after.status == 0 && after.outputText.hasPrefix("text: -dash\ntokens: [CLS] - dash [SEP]\n"))
    }

    /// libcurl is loaded by the first HTTP request (Sources/CCurl/shim.h).
    ///
    /// Hidden in a mount namespace (/dev/null bound over it: needs root), a chunk directory still runs and an
    /// http:// source fails saying what is missing.
    @Test(
        "Without libcurl, infer runs from a chunk directory and an http:// source is an error naming libcurl",
        .enabled(if: libcurlCanBeHidden, "needs root, unshare and mount in a mount namespace"))
    func withoutLibcurl() async throws {
        let library = Self.libcurlPath
        #expect(!library.isEmpty, "ldconfig does not list libcurl.so.4")
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path)
        func inferWithoutLibcurl(_ arguments: [String]) throws -> ProcessResult {
            try ProcessRunner.run(
                "/usr/bin/unshare",
                [
                    "-m", "/bin/sh", "-c", "mount --bind /dev/null \"$0\" && exec \"$@\"", library,
                    Executables.path("infer"),
                ]
                    + arguments)
        }
        let local = try inferWithoutLibcurl(["--chunks-dir", chunks.path, "hello world"])
        #expect(local.status == 0, "\(local.standardError)")
        let remote = try inferWithoutLibcurl(["--source", "http://127.0.0.1:9/chunks", "hello world"])
        #expect(remote.status != 0)
        #expect(remote.standardError.contains("libcurl could not be loaded"), "\(remote.standardError)")
    }

    /// Where the dynamic linker finds libcurl.so.4 (empty when it does not).
    static let libcurlPath: String = {
        let found = try? ProcessRunner.run(
            "/bin/sh", ["-c", "ldconfig -p | grep -m1 'libcurl.so.4 ' | sed 's/.*=> //'"])
        return found?.outputText.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()

    /// Whether this machine lets a test hide libcurl from one process: a mount namespace in which
    /// /dev/null can be bound over it (root, and a kernel and container that allow it).
    static let libcurlCanBeHidden: Bool = {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/usr/bin/unshare"), !libcurlPath.isEmpty
        else { return false }
        let probe = try? ProcessRunner.run(
            "/usr/bin/unshare", ["-m", "/bin/sh", "-c", "mount --bind /dev/null \"$0\"", libcurlPath])
        return probe?.status == 0
    }()

    @Test("Every tool prints its version and the kernel set this CPU runs")
    func versions() throws {
        let set = try KernelSet.selected()
        for tool in ["infer", "chunker", "weight-server"] {
            let result = try ProcessRunner.run(Executables.path(tool), ["--version"])
            #expect(result.status == 0)
            #expect(
                result.outputText
                    == "\(tool) \(StreamingWeightsVersion.string), kernels \(set.name) (\(set)) on \(KernelSet.cpuModel)\n"
            )
        }
    }

    @Test("STREAMING_WEIGHTS_KERNELS forces a set, reported in --stats and --json; one the CPU lacks is an error")
    func forcedKernels() throws {
        let texts = ["Hello, world!", "Another sentence."]
        var embeddings: [[[Float]]] = []
        for set in KernelSet.supported {
            let result = try ProcessRunner.run(
                Executables.path("infer"), ["--model", Self.tiny, "--json", "--"] + texts,
                environment: ["STREAMING_WEIGHTS_KERNELS": set.name])
            #expect(result.status == 0, "\(result.standardError)")
            let json = try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
            let stats = try #require(json["stats"] as? [String: Any])
            #expect(stats["kernels"] as? String == set.name && stats["cpu"] as? String == KernelSet.cpuModel)
            embeddings.append(
                try Self.decoder.decode(Document.self, from: result.standardOutput).results.map(\.embedding))
            let text = try ProcessRunner.run(
                Executables.path("infer"), ["--model", Self.tiny, "--stats", "x"],
                environment: ["STREAMING_WEIGHTS_KERNELS": set.name])
            #expect(text.outputText.contains("kernels: \(set.name) (\(set)) on \(KernelSet.cpuModel)\n"))
        }
        for other in embeddings.dropFirst() {
            #expect(maximumDifference(other.flatMap { $0 }, embeddings[0].flatMap { $0 }) <= 1e-4)
        }
        let supported = KernelSet.supported.map(\.name).joined(separator: ", ")
        var refused = ["sse9": "STREAMING_WEIGHTS_KERNELS=sse9 names no kernel set; this CPU can run: \(supported)"]
        // On x86-64 at least neon, on AArch64 avx512 and avx2.
        for name in KernelSet.names where !KernelSet.supported.map(\.name).contains(name) {
            refused[name] = "this CPU (\(KernelSet.cpuModel)) cannot run the \(name) kernels; it can run: \(supported)"
        }
        #expect(refused.count >= 2)
        for (name, message) in refused {
            let result = try ProcessRunner.run(
                Executables.path("infer"), ["--model", Self.tiny, "x"], environment: ["STREAMING_WEIGHTS_KERNELS": name]
            )
            #expect(result.status != 0 && result.standardError.contains(message), "\(result.standardError)")
        }
    }

    @Test("Through a weight server the output equals the local chunk directory's, with cache stats and similarities")
    func throughServer() async throws {
        let served = try await ServedChunks()
        let texts = ["A cat sat on the mat.", "A cat was sitting on a mat.", "Stock prices fell sharply."]
        let local = try Self.infer(["--chunks-dir", served.directory.path, "--json", "--"] + texts)
        let remote = try Self.infer(
            ["--server", served.url, "--cache-size", "1", "--json", "--stats", "--verbose", "--"] + texts)
        #expect(remote.status == 0, "\(remote.standardError)")
        // --verbose: the connection and every object fetched, each once.
        let log = remote.standardError.split(separator: "\n")
        #expect(log.filter { $0 == "info: connected to the weight server at \(served.url)" }.count == 1)
        for name in ["config.json", "vocab.txt", "embeddings", "layer_0", "layer_1", "pooler"] {
            #expect(
                log.filter { $0.hasPrefix("info: fetched \(name) from \(served.url): ") }.count == 1,
                "\(name): \(remote.standardError)")
        }
        let expected = try Self.decoder.decode(Document.self, from: local.standardOutput)
        let streamed = try Self.decoder.decode(Document.self, from: remote.standardOutput)
        #expect(streamed.results.map(\.embedding) == expected.results.map(\.embedding))
        #expect(streamed.model == served.manifest.modelName)
        let json = try #require(try JSONSerialization.jsonObject(with: remote.standardOutput) as? [String: Any])
        let stats = try #require(json["stats"] as? [String: Any])
        let cache = try #require(stats["cache_info"] as? [String: Any])
        let inference = try #require(stats["inference_stats"] as? [String: Any])
        #expect(cache["max_cache_size"] as? Int == 1 && cache["cache_size"] as? Int == 1)
        #expect(inference["total_inferences"] as? Int == 1 && (inference["bytes_fetched"] as? Int ?? 0) > 0)
        // A cold pass: every layer came from a fetch (a prefetch), none from the cache.
        #expect(inference["cache_hit_rate"] as? Double == 0 && inference["prefetch_hits"] as? Int == 2)
        let similarity = try #require(json["similarity"] as? [[Double]])
        #expect(similarity.count == 3 && similarity[0][1] > similarity[0][2])
    }
}
