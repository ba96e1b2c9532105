import Foundation
import StreamingWeights
import Testing

/// Fixtures/mpnet-tiny-dense: mpnet-tiny with sentence-transformers' Pooling (mean), Dense
/// (32 -> 16, tanh) and Normalize, saved by sentence-transformers 5.3.0, and its embeddings.
@Suite("sentence-transformers' Dense module, locally, streamed, and in the 5.4+ layout")
struct DenseModuleTests {
    static let directory = Repository.path("Fixtures/mpnet-tiny-dense")

    static func sentences() throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/golden/sentences.json")))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["sentences"] as? [String] ?? []
    }

    /// The fixture copied to a temporary directory, with `changes` (relative path -> contents).
    static func copy(changing changes: [String: String] = [:], removing removed: [String] = []) throws
        -> TemporaryDirectory
    {
        let copy = try TemporaryDirectory()
        try FileManager.default.removeItem(atPath: copy.path)
        try FileManager.default.copyItem(atPath: directory, toPath: copy.path)
        for (name, contents) in changes { try Data(contents.utf8).write(to: URL(fileURLWithPath: copy.file(name))) }
        for name in removed { try FileManager.default.removeItem(atPath: copy.file(name)) }
        return copy
    }

    @Test("With no flags the model pools, projects and normalizes as sentence-transformers does")
    func matchesSentenceTransformers() async throws {
        let encoder = try await TextEncoder(modelDirectory: Self.directory)
        let results = try await encoder.encode(try Self.sentences())
        let golden = try GoldenOutputs("mpnet-tiny-dense").floats("sentence_embedding")
        #expect(results.pooling == .mean && results.normalized)
        #expect(results.texts.allSatisfy { $0.embedding.count == 16 })
        #expect(maximumDifference(results.texts.flatMap(\.embedding), golden) <= 1e-5)
        // A pooling given by hand leaves the model's Dense out: the transformer's width.
        let cls = try await encoder.encode(["Hello"], pooling: .cls)
        #expect(cls.texts[0].embedding.count == 32)
    }

    @Test("chunker -> weight-server -> streamed carries the Dense files and gives the local embeddings exactly")
    func streamed() async throws {
        let served = try await ServedChunks(model: Self.directory)
        #expect(served.manifest.files["2_Dense/model.safetensors"] != nil)
        #expect(served.manifest.files["2_Dense/config.json"] != nil)
        let client = WeightClient(configuration: WeightClient.Configuration(url: served.url))
        defer { client.close() }
        let streamed = TextEncoder(streaming: try await StreamingBertModel(client: client, cacheSize: 1))
        let local = try await TextEncoder(modelDirectory: Self.directory)
        let sentences = try Self.sentences()
        let expected = try await local.encode(sentences).texts.map(\.embedding)
        #expect(try await streamed.encode(sentences).texts.map(\.embedding) == expected)
    }

    @Test("A model saved by sentence-transformers 5.4 or later (new class names, pooling_mode) reads the same")
    func newLayout() async throws {
        let modules = """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.base.modules.dense.Dense"},
             {"idx": 3, "name": "3", "path": "3_Normalize", "type": "sentence_transformers.base.modules.normalize.Normalize"}]
            """
        let copy = try Self.copy(changing: [
            "modules.json": modules,
            "1_Pooling/config.json": #"{"embedding_dimension": 32, "pooling_mode": "mean", "include_prompt": true}"#,
        ])
        let sentences = try Self.sentences()
        let expected = try await TextEncoder(modelDirectory: Self.directory).encode(sentences)
        let results = try await TextEncoder(modelDirectory: copy.path).encode(sentences)
        #expect(results.texts.map(\.embedding) == expected.texts.map(\.embedding))
        let median = try Self.copy(changing: [
            "modules.json": modules, "1_Pooling/config.json": #"{"pooling_mode": "median"}"#,
        ])
        await #expect {
            _ = try await TextEncoder(modelDirectory: median.path).encode(["x"])
        } throws: { error in
            guard case .unknownPoolingMode(let name, let file, _, let supported)? = error as? SentenceEmbeddingError
            else { return false }
            return name == "median" && file == "1_Pooling/config.json" && supported.contains("mean_sqrt_len_tokens")
        }
        let several = try Self.copy(changing: [
            "modules.json": modules, "1_Pooling/config.json": #"{"pooling_mode": ["cls", "mean"]}"#,
        ])
        await #expect {
            _ = try await TextEncoder(modelDirectory: several.path).encode(["x"])
        } throws: { error in
            (error as? SentenceEmbeddingError)
                == .poolingModes(["cls", "mean"], file: "1_Pooling/config.json", location: several.path)
        }
    }

    @Test("A Dense module with an unknown activation, or without its weights, is an error naming the file")
    func badDense() async throws {
        let config = try String(contentsOfFile: Self.directory + "/2_Dense/config.json", encoding: .utf8)
        let swish = try Self.copy(changing: [
            "2_Dense/config.json": config.replacingOccurrences(
                of: "torch.nn.modules.activation.Tanh", with: "torch.nn.modules.activation.SiLU")
        ])
        await #expect {
            _ = try await TextEncoder(modelDirectory: swish.path).encode(["x"])
        } throws: { error in
            guard case .unsupportedActivation(let name, let file, _, let supported)? = error as? SentenceEmbeddingError
            else { return false }
            return name == "torch.nn.modules.activation.SiLU" && file == "2_Dense/config.json"
                && supported.contains("torch.nn.modules.activation.Tanh")
        }
        let noWeights = try Self.copy(removing: ["2_Dense/model.safetensors"])
        await #expect {
            _ = try await TextEncoder(modelDirectory: noWeights.path).encode(["x"])
        } throws: { error in
            (error as? SentenceEmbeddingError) == .missingFile("2_Dense/model.safetensors", location: noWeights.path)
        }
    }
}
