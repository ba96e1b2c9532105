import Foundation
import StreamingWeights
import Testing

@Suite("Checkpoint formats and hostile pickles")
struct CheckpointFormatTests {
    static let checkpoints = Repository.path("Fixtures/checkpoints")

    /// The chunk files of the model in `directory`, by name.
    static func chunkFiles(of directory: String) async throws -> [String: Data] {
        let output = try TemporaryDirectory()
        let manifest = try await ModelChunker(modelName: directory, outputDirectory: output.path).chunkModel()
        var files: [String: Data] = [:]
        for chunk in manifest.chunks.values {
            files[chunk.file] = try Data(contentsOf: URL(fileURLWithPath: output.file(chunk.file)))
        }
        return files
    }

    @Test(
        "pytorch_model.bin, a bert.-prefixed checkpoint with gamma/beta and a cls head, and a sharded one give the safetensors version's chunks, byte for byte"
    )
    func formatsGiveIdenticalChunks() async throws {
        let reference = try await Self.chunkFiles(of: Self.checkpoints + "/tiny-bert-pt/safetensors")
        #expect(
            reference.keys.sorted() == [
                "embeddings.safetensors", "layer_0.safetensors", "layer_1.safetensors", "pooler.safetensors",
            ])
        for variant in ["tiny-bert-pt/bin", "tiny-bert-prefixed", "tiny-bert-sharded"] {
            #expect(try await Self.chunkFiles(of: Self.checkpoints + "/" + variant) == reference, "\(variant)")
        }
    }

    @Test("The PyTorch checkpoint's tensors equal the safetensors file's, and position_ids is skipped")
    func pytorchTensors() throws {
        let bin = try Checkpoint(directory: Self.checkpoints + "/tiny-bert-pt/bin")
        let safetensors = try Checkpoint(directory: Self.checkpoints + "/tiny-bert-pt/safetensors")
        #expect(bin.tensorNames == safetensors.tensorNames && bin.tensorNames.count == 39)
        #expect(bin.skippedNames == ["embeddings.position_ids"])
        for name in bin.tensorNames {
            #expect(try bin.tensor(named: name) == safetensors.tensor(named: name), "\(name)")
        }
        let prefixed = try Checkpoint(directory: Self.checkpoints + "/tiny-bert-prefixed")
        #expect(prefixed.tensorNames == bin.tensorNames)
        #expect(
            prefixed.skippedNames.contains("cls.predictions.bias")
                && prefixed.skippedNames.contains("bert.embeddings.position_ids"))
    }

    @Test(
        "A pickle that references os.system or builtins.eval is refused, naming it, and its payload never runs",
        arguments: [
            ("os_system.bin", "os.system", "/tmp/streaming-weights-pwned-os-system"),
            ("builtins_eval.bin", "builtins.eval", "/tmp/streaming-weights-pwned-builtins-eval"),
            ("plain_pickle_os_system.pkl", "posix.system", "/tmp/streaming-weights-pwned-plain-pickle"),
        ]
    )
    func hostilePickles(file: String, global: String, marker: String) async throws {
        try? FileManager.default.removeItem(atPath: marker)
        let model = try TemporaryDirectory()
        try FileManager.default.copyItem(
            atPath: Self.checkpoints + "/tiny-bert-pt/bin/config.json", toPath: model.file("config.json"))
        try FileManager.default.copyItem(
            atPath: Self.checkpoints + "/malicious/" + file, toPath: model.file("pytorch_model.bin"))
        let output = try TemporaryDirectory()
        await #expect(throws: PyTorchCheckpointError.forbiddenGlobal(global, file: model.file("pytorch_model.bin"))) {
            _ = try await ModelChunker(modelName: model.path, outputDirectory: output.path).chunkModel()
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path).isEmpty)
    }

    @Test("Damaged archives and pickles are refused with the reason", arguments: [0, 100, 2000])
    func damagedArchive(keep: Int) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.checkpoints + "/tiny-bert-pt/bin/pytorch_model.bin"))
        #expect(throws: PyTorchCheckpointError.self) {
            _ = try PyTorchCheckpoint(
                storage: ByteStorage(Array(bytes.prefix(keep)) + Array(bytes.suffix(22))), source: "damaged.bin")
        }
    }
}

@Suite("Chunks checked by Python's safetensors and PyTorch")
struct PythonChunkCheckTests {
    static func check(_ chunks: String, source: String, dtype: String? = nil) throws {
        let arguments =
            ["-m", "streaming_weights_testing.check_chunks", chunks, source] + (dtype.map { ["--dtype", $0] } ?? [])
        let result = try ProcessRunner.run(Repository.python, arguments)
        #expect(result.status == 0, "check_chunks.py: \(result.outputText) \(result.standardError)")
    }

    @Test(
        "bert-tiny chunks, plain, compressed, float16 and bfloat16, match the source in Python",
        arguments: [
            (false, nil as DType?), (true, nil), (false, .float16), (true, .bfloat16),
        ])
    func bertTiny(compress: Bool, dtype: DType?) async throws {
        let output = try TemporaryDirectory()
        let source = Repository.path("Fixtures/bert-tiny")
        _ = try await ModelChunker(modelName: source, outputDirectory: output.path, compress: compress, dtype: dtype)
            .chunkModel()
        try Self.check(output.path, source: source, dtype: dtype?.pythonName)
    }

    @Test("The PyTorch-format fixture's float16 chunks, edge values included, equal PyTorch's conversion")
    func pytorchFloat16() async throws {
        let output = try TemporaryDirectory()
        let source = Repository.path("Fixtures/checkpoints/tiny-bert-pt/bin")
        for dtype in [DType.float16, .bfloat16] {
            _ = try await ModelChunker(modelName: source, outputDirectory: output.path, dtype: dtype).chunkModel()
            try Self.check(output.path, source: source, dtype: dtype.pythonName)
        }
    }

    @Test(
        "The other architectures' chunks (prefixes, DistilBERT's layers, MPNet's shared bias, heads) match the source in Python",
        arguments: [
            "xlm-r-tiny", "distilbert-tiny", "mpnet-tiny", "bert-reranker-tiny", "xlm-r-tiny-reranker",
            "distilbert-reranker-tiny",
        ])
    func otherArchitectures(name: String) async throws {
        let output = try TemporaryDirectory()
        let source = Repository.path("Fixtures/\(name)")
        _ = try await ModelChunker(modelName: source, outputDirectory: output.path).chunkModel()
        try Self.check(output.path, source: source)
    }

    @Test("all-MiniLM-L6-v2 chunks match the source in Python, and run to transformers' outputs")
    func miniLM() async throws {
        let output = try TemporaryDirectory()
        _ = try await ModelChunker(modelName: miniLMDirectory, outputDirectory: output.path).chunkModel()
        try Self.check(output.path, source: miniLMDirectory)
        let model = try await BertModel(loadingFrom: RemoteTensorSource(chunkDirectory: output.path))
        let golden = try GoldenOutputs("all-MiniLM-L6-v2")
        let batch = try golden.batch()
        #expect(
            hiddenStateDifference(try await model.forward(batch), try golden.floats("last_hidden_state"), batch: batch)
                <= 1e-4)
    }
}
