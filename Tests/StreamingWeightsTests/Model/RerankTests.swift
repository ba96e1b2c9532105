import Foundation
import StreamingWeights
import Testing

/// Cross-encoders (Fixtures/README.md): BERT's `BertForSequenceClassification`, XLM-R's
/// `XLMRobertaForSequenceClassification` and DistilBERT's `DistilBertForSequenceClassification`,
/// tiny and random, with transformers' logits.
@Suite("Sequence-classification heads score pairs as transformers does, locally, from chunks and streamed")
struct RerankTests {
    static let models = ["bert-reranker-tiny", "xlm-r-tiny-reranker", "distilbert-reranker-tiny"]

    static func directory(_ name: String) -> String { Repository.path("Fixtures/\(name)") }

    /// The golden's (query, passage) pairs, from its metadata.
    static func pairs(_ golden: GoldenOutputs) throws -> [(query: String, text: String)] {
        let data = Data((golden.file.metadata["pairs"] ?? "[]").utf8)
        let pairs = try JSONSerialization.jsonObject(with: data) as? [[String]] ?? []
        return pairs.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
    }

    @Test("The model's logits for the golden pair batch match transformers' to 1e-5", arguments: models)
    func logits(name: String) async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.directory(name)))
        let golden = try GoldenOutputs(name)
        let output = try await model.forward(try golden.batch("pair_"))
        #expect(model.head?.labelCount == 1)
        let logits = try #require(output.logits)
        #expect(maximumDifference(logits, try golden.floats("logits")) <= 1e-5, "\(logits)")
        #expect(
            hiddenStateDifference(output, try golden.floats("pair_last_hidden_state"), batch: try golden.batch("pair_"))
                <= 1e-4)
    }

    @Test("rerank(query:texts:) tokenizes each pair and reports the logit and its sigmoid", arguments: models)
    func rerank(name: String) async throws {
        let encoder = try await TextEncoder(modelDirectory: Self.directory(name))
        let golden = try GoldenOutputs(name)
        let expected = try golden.floats("logits")
        let pairs = try Self.pairs(golden)
        #expect(pairs.count == expected.count)
        for query in Set(pairs.map(\.query)) {
            let indices = pairs.indices.filter { pairs[$0].query == query }
            let scores = try await encoder.rerank(query: query, texts: indices.map { pairs[$0].text })
            for (score, index) in zip(scores, indices) {
                #expect(score.text == pairs[index].text)
                #expect(abs(score.logits[0] - expected[index]) <= 1e-5, "\(score.logits) vs \(expected[index])")
                #expect(abs((score.score ?? 0) - 1 / (1 + exp(-expected[index]))) <= 1e-5)
            }
        }
    }

    @Test("chunker -> weight-server -> streamed scores equal the local model's exactly", arguments: models)
    func streamed(name: String) async throws {
        let local = try await TextEncoder(modelDirectory: Self.directory(name))
        let served = try await ServedChunks(model: Self.directory(name))
        #expect(served.manifest.chunks["head"] != nil && served.manifest.formatVersion == 2)
        let client = WeightClient(configuration: WeightClient.Configuration(url: served.url))
        defer { client.close() }
        let streamed = TextEncoder(streaming: try await StreamingBertModel(client: client, cacheSize: 1))
        let pairs = try Self.pairs(try GoldenOutputs(name))
        let query = try #require(pairs.first?.query)
        let texts = pairs.map(\.text)
        let expected = try await local.rerank(query: query, texts: texts)
        let scores = try await streamed.rerank(query: query, texts: texts)
        #expect(scores.map(\.logits) == expected.map(\.logits))
        #expect(scores.map(\.score) == expected.map(\.score))
    }

    @Test("A head whose label count disagrees with its weights is refused, naming both")
    func labelsDisagree() async throws {
        let directory = try TemporaryDirectory()
        for name in ["model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(
                atPath: Self.directory("bert-reranker-tiny") + "/" + name, toPath: directory.file(name))
        }
        var config =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: Self.directory("bert-reranker-tiny") + "/config.json")))
            as? [String: Any] ?? [:]
        config["id2label"] = ["0": "irrelevant", "1": "relevant"]
        try JSONSerialization.data(withJSONObject: config).write(
            to: URL(fileURLWithPath: directory.file("config.json")))
        await #expect {
            _ = try await BertModel(loadingFrom: CheckpointTensorSource(directory: directory.path))
        } throws: { error in
            (error as? ModelError) == .headLabelsDisagree(labels: 2, weightRows: 1)
                && "\(error)".contains("2 labels") && "\(error)".contains("1 rows")
        }
    }

    @Test("BERT's head on a checkpoint without a pooler (which it reads) is refused, saying so")
    func headWithoutPooler() async throws {
        let directory = try TemporaryDirectory()
        let source = Self.directory("bert-reranker-tiny")
        for name in ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try FileManager.default.copyItem(atPath: source + "/" + name, toPath: directory.file(name))
        }
        let file = try SafetensorsFile(contentsOfFile: source + "/model.safetensors")
        var writer = SafetensorsWriter()
        for name in file.tensorNames where !name.contains("pooler.") {
            try writer.add(try file.tensor(named: name), named: name)
        }
        try writer.write(toFile: directory.file("model.safetensors"))
        await #expect {
            _ = try await BertModel(loadingFrom: CheckpointTensorSource(directory: directory.path))
        } throws: { error in
            (error as? ModelError) == .headNeedsPooler && "\(error)".contains("no pooler")
        }
    }

    @Test("Reranking with a model that has no head is refused, saying a cross-encoder is needed")
    func noHead() async throws {
        let encoder = try await TextEncoder(modelDirectory: Repository.path("Fixtures/bert-tiny"))
        let error = await #expect(throws: ModelError.self) {
            _ = try await encoder.rerank(query: "q", texts: ["a"])
        }
        #expect(error?.description.contains("no sequence-classification head") == true)
        let result = try ProcessRunner.run(
            Executables.path("infer"), ["--model", Repository.path("Fixtures/bert-tiny"), "--rerank", "q", "a"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("no sequence-classification head"))
    }

    @Test("infer --rerank prints each text's score; --json gives logits and score")
    func inferRerank() throws {
        let directory = Self.directory("bert-reranker-tiny")
        let text = try ProcessRunner.run(
            Executables.path("infer"), ["--model", directory, "--rerank", "What is a safetensors file?", "a", "b"])
        #expect(text.status == 0, "\(text.standardError)")
        let lines = text.outputText.split(separator: "\n")
        #expect(lines.first == "query: What is a safetensors file?")
        #expect(
            lines.count == 3 && lines[1].hasSuffix("  a") && lines[2].hasSuffix("  b") && lines[1].contains("logit"))
        let json = try ProcessRunner.run(
            Executables.path("infer"), ["--model", directory, "--json", "--rerank", "q", "a"])
        #expect(json.status == 0, "\(json.standardError)")
        let document =
            try JSONSerialization.jsonObject(with: json.standardOutput) as? [String: Any] ?? [:]
        let results = document["results"] as? [[String: Any]] ?? []
        #expect(document["query"] as? String == "q" && results.count == 1)
        let logit = try #require((results.first?["logits"] as? [Double])?.first)
        let score = try #require(results.first?["score"] as? Double)
        #expect(abs(score - 1 / (1 + exp(-logit))) <= 1e-6)
    }
}
