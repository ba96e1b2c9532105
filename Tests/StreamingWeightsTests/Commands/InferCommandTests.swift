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
    func chunkDirectoryAndPooling() throws {
        let directory = try TemporaryDirectory()
        let checkpoint = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        for name in ["config.json", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: "\(Self.tiny)/\(name)", toPath: directory.file(name))
        }
        for (chunk, prefix) in [
            ("embeddings", "embeddings."), ("layer_0", "encoder.layer.0."), ("layer_1", "encoder.layer.1."),
            ("pooler", "pooler."),
        ] {
            var writer = SafetensorsWriter()
            for name in checkpoint.tensorNames where name.hasPrefix(prefix) {
                try writer.add(try checkpoint.tensor(named: name), named: String(name.dropFirst(prefix.count)))
            }
            try writer.write(toFile: directory.file("\(chunk).safetensors"))
        }
        let arguments = ["--json", "--pooling", "mean", "--normalize", "a sentence", "another one"]
        let fromChunks = try Self.decoder.decode(
            Document.self, from: try Self.infer(["--chunks-dir", directory.path] + arguments).standardOutput)
        let fromModel = try Self.decoder.decode(
            Document.self, from: try Self.infer(["--model", Self.tiny] + arguments).standardOutput)
        #expect(fromChunks.results.map(\.embedding) == fromModel.results.map(\.embedding))
        for result in fromModel.results {
            #expect(abs(result.embedding.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
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
                ["--model", Repository.path("Fixtures/bert-tiny"), "--pooling", "max", "x"],
                "--pooling must be cls, mean or pooler, not 'max'."
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
        ])
    func badInvocations(arguments: [String], message: String) throws {
        let result = try Self.infer(arguments, input: "")
        #expect(result.status != 0)
        #expect(result.standardError.contains(message), "\(result.standardError)")
        if arguments.first == "--server" || arguments.first == "--source" {
            #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
        }
    }

    @Test("Through a weight server the output equals the local chunk directory's, with cache stats and similarities")
    func throughServer() async throws {
        let served = try await ServedChunks()
        let texts = ["A cat sat on the mat.", "A cat was sitting on a mat.", "Stock prices fell sharply."]
        let local = try Self.infer(["--chunks-dir", served.directory.path, "--json", "--"] + texts)
        let remote = try Self.infer(
            ["--server", served.url, "--cache-size", "1", "--json", "--stats", "--"] + texts)
        #expect(remote.status == 0, "\(remote.standardError)")
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
        let similarity = try #require(json["similarity"] as? [[Double]])
        #expect(similarity.count == 3 && similarity[0][1] > similarity[0][2])
    }
}
