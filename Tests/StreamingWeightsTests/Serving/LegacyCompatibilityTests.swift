import Foundation
import StreamingWeights
import Testing

@Suite("The Python tool's deployments: .pt chunk directories and GET layer 0")
struct LegacyCompatibilityTests {
    /// A chunk directory written as the Python tool's chunker wrote it
    /// (streaming_weights_testing.make_legacy_chunks).
    static func legacyChunks(compress: Bool = false, withTokenizer: Bool = true) throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let result = try ProcessRunner.run(
            Repository.python,
            ["-m", "streaming_weights_testing.make_legacy_chunks", ModelChunkerTests.tiny, directory.path]
                + (compress ? ["--compress"] : []) + (withTokenizer ? ["--with-tokenizer"] : []))
        try #require(result.status == 0, "\(result.standardError)")
        return directory
    }

    /// What streaming_weights_testing.legacy_client printed for each request.
    static func pythonClient(_ url: String, _ requests: [String]) throws -> [[String: Any]] {
        let result = try ProcessRunner.run(
            Repository.python, ["-m", "streaming_weights_testing.legacy_client", url] + requests)
        try #require(result.status == 0, "\(result.standardError)")
        return try result.outputText.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test(
        "A Python client like the old tool's (websockets, GET LAYER 0) receives the exact bytes of each .pt file, and clear failures"
    )
    func pythonClient() async throws {
        let chunks = try Self.legacyChunks(withTokenizer: false)
        let server = try BackgroundProcess(
            Executables.path("weight-server"), ["--chunks-dir", chunks.path, "--port", "0"])
        let url = try server.firstLine()
        let answers = try Self.pythonClient(
            url,
            [
                "GET LAYER 0", "GET layer 1", "GET embeddings 0", "GET pooler 0", "GET layer 2", "GET LAYER",
                "GET lm_head 0",
            ])
        for (answer, file) in zip(answers, ["layer_0.pt", "layer_1.pt", "embeddings.pt", "pooler.pt"]) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: chunks.file(file)))
            #expect(answer["success"] as? Bool == true)
            #expect(answer["sha256"] as? String == Digest.sha256(bytes).hexString, "\(file)")
            #expect(answer["size"] as? Int == bytes.count)
        }
        #expect(answers[0]["component"] as? String == "layer_0")
        #expect(answers[2]["component"] as? String == "embeddings_0")
        #expect((answers[0]["tensors"] as? [String: [Int]])?["attention.self.query.weight"] == [128, 128])
        #expect(answers[4]["error"] as? String == "File not found: layer_2.pt")
        #expect(answers[5]["error"] as? String == "Invalid request format")
        #expect(answers[6]["error"] as? String == "Unknown component: lm_head")
    }

    @Test("A server of safetensors chunks answers a GET request with a failure saying why, in the old format")
    func newChunksRefuseLegacyRequests() async throws {
        let served = try await ServedChunks()
        let answers = try Self.pythonClient(served.url, ["GET LAYER 0"])
        #expect(answers.first?["success"] as? Bool == false)
        #expect((answers.first?["error"] as? String)?.contains(".pt chunks made by the Python tool") == true)
    }

    @Test(
        "Our client streams a .pt chunk set through our server (float32, and halved by --compress), equal to the local model",
        arguments: [false, true])
    func ourClient(compress: Bool) async throws {
        let legacy = try Self.legacyChunks(compress: compress)
        let server = try BackgroundProcess(
            Executables.path("weight-server"), ["--chunks-dir", legacy.path, "--port", "0"])
        let url = try server.firstLine()
        let local = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: local.path, dtype: compress ? .float16 : nil)
        let (batch, expected) = try await StreamingBertModelTests.expected(local.path)
        let model = try await StreamingBertModel(source: url, cacheSize: 1, prefetchDepth: 1)
        #expect(model.source.manifest.dtype == (compress ? "float16" : "float32"))
        for _ in 0..<2 {
            let output = try await model.forward(batch)
            #expect(output.lastHiddenState == expected.lastHiddenState)
            #expect(output.poolerOutput == expected.poolerOutput)
        }
    }

    @Test("A .pt chunk set with a missing or damaged chunk stops the server at start, naming the chunk")
    func badLegacySets() async throws {
        let missing = try Self.legacyChunks()
        try FileManager.default.removeItem(atPath: missing.file("layer_1.pt"))
        let damaged = try Self.legacyChunks()
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: damaged.file("layer_0.pt")))
        for (directory, chunk) in [(missing, "layer_1"), (damaged, "layer_0")] {
            let result = try ProcessRunner.run(
                Executables.path("weight-server"), ["--chunks-dir", directory.path, "--port", "0"])
            #expect(result.status != 0)
            #expect(result.standardError.contains("chunk '\(chunk)'"), "\(result.standardError)")
        }
    }

    @Test(
        "Our client reads a .pt chunk directory directly (file://): outputs equal the local model's; a chunk changed after start is caught; no tokenizer is a clear error"
    )
    func directoryDirectly() async throws {
        let legacy = try Self.legacyChunks()
        let local = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: local.path)
        let (batch, expected) = try await StreamingBertModelTests.expected(local.path)
        let model = try await StreamingBertModel(source: "file://" + legacy.path, cacheSize: 1, prefetchDepth: 0)
        #expect(try await model.forward(batch).lastHiddenState == expected.lastHiddenState)
        // The hashes taken at start guard the reads that follow.
        try tamper(legacy.file("layer_1.pt"), offsetFromEnd: 2000)
        let error = await #expect(throws: ModelError.self) { try await model.forward(batch) }
        #expect("\(error.map(String.init(describing:)) ?? "")".contains("layer_1"))
        let bare = try Self.legacyChunks(withTokenizer: false)
        await #expect(throws: ModelError.noTokenizer(source: "directory '\(bare.path)'")) {
            try await StreamingBertModel(source: bare.path)
        }
    }
}
