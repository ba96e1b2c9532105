import Foundation
import StreamingWeights
import Testing

/// The encoders beyond BERT (Fixtures/README.md): tiny random-weight models written by
/// transformers' own classes, each with its tokenizer and transformers' outputs.
@Suite("RoBERTa, XLM-R, DistilBERT and MPNet against transformers, locally and streamed")
struct EncoderArchitectureTests {
    static let models = ["xlm-r-tiny", "roberta-tiny", "distilbert-tiny", "mpnet-tiny"]

    static func directory(_ name: String) -> String { Repository.path("Fixtures/\(name)") }

    @Test("The padded batch, pairs and long texts match transformers to 1e-4", arguments: models)
    func matchesTransformers(name: String) async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.directory(name)))
        let golden = try GoldenOutputs(name)
        for prefix in ["", "pair_", "long_"] where golden.file.tensorNames.contains(prefix + "input_ids") {
            let batch = try golden.batch(prefix)
            for threads in [ComputeThreads.single, ComputeThreads(count: 2, minimumWorkPerThread: 1)] {
                let output = try await model.forward(batch, threads: threads)
                let difference = hiddenStateDifference(
                    output, try golden.floats(prefix + "last_hidden_state"), batch: batch)
                #expect(difference <= 1e-4, "\(prefix)last_hidden_state differs by \(difference)")
                if golden.file.tensorNames.contains(prefix + "pooler_output") {
                    let pooled = try #require(output.poolerOutput)
                    #expect(maximumDifference(pooled, try golden.floats(prefix + "pooler_output")) <= 1e-4)
                } else {
                    #expect(output.poolerOutput == nil)
                }
            }
        }
    }

    @Test(
        "A DistilBERT with sinusoidal_pos_embds reads its checkpoint's position table, as transformers loads it: distilbert-tiny so configured matches its golden"
    )
    func sinusoidalDistilBERT() async throws {
        let directory = try TemporaryDirectory()
        let source = Self.directory("distilbert-tiny")
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(
                atPath: (source as NSString).appendingPathComponent(name), toPath: directory.file(name))
        }
        let configuration = try String(contentsOfFile: directory.file("config.json"), encoding: .utf8)
        let flagged = configuration.replacingOccurrences(
            of: "\"sinusoidal_pos_embds\": false", with: "\"sinusoidal_pos_embds\": true")
        #expect(flagged != configuration)
        try flagged.write(toFile: directory.file("config.json"), atomically: true, encoding: .utf8)
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: directory.path))
        let golden = try GoldenOutputs("distilbert-tiny")
        let batch = try golden.batch("")
        let difference = hiddenStateDifference(
            try await model.forward(batch), try golden.floats("last_hidden_state"), batch: batch)
        #expect(difference <= 1e-4, "last_hidden_state differs by \(difference)")
    }

    @Test(
        "Our tokenizer gives transformers' padded ids, mask and token types for the sentences and pairs",
        arguments: models)
    func tokenizerMatches(name: String) throws {
        let configuration = try BertConfiguration(contentsOfFile: Self.directory(name) + "/config.json")
        let tokenizer = try TokenizerLoader.load(
            directory: Self.directory(name), maximumPositions: configuration.maximumSequenceLength)
        let golden = try GoldenOutputs(name)
        let data = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/golden/sentences.json")))
        let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let sentences = root["sentences"] as? [String] ?? []
        let pairs = (root["pairs"] as? [[String]] ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
        #expect(!sentences.isEmpty && !pairs.isEmpty)
        let batch = try tokenizer.encodeBatch(sentences.map { try tokenizer.encode($0) })
        let expected = try golden.batch()
        #expect(batch.inputIDs == expected.inputIDs)
        #expect(batch.attentionMask == expected.attentionMask)
        if configuration.typeVocabularySize > 0 { #expect(batch.tokenTypeIDs == expected.tokenTypeIDs) }
        let pairBatch = try tokenizer.encodeBatch(pairs.map { try tokenizer.encode($0.0, pair: $0.1) })
        let expectedPairs = try golden.batch("pair_")
        #expect(pairBatch.inputIDs == expectedPairs.inputIDs)
        #expect(pairBatch.attentionMask == expectedPairs.attentionMask)
        if configuration.typeVocabularySize > 0 { #expect(pairBatch.tokenTypeIDs == expectedPairs.tokenTypeIDs) }
    }

    @Test(
        "chunker -> weight-server -> streamed model equals the local model exactly, cache 1 and all layers",
        arguments: models)
    func streamedEqualsLocal(name: String) async throws {
        let local = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.directory(name)))
        let served = try await ServedChunks(model: Self.directory(name))
        // Not BERT: format version 2, which readers from before it refuse rather than half-read.
        #expect(served.manifest.formatVersion == 2)
        #expect((served.manifest.chunks["shared"] != nil) == (name == "mpnet-tiny"))
        let golden = try GoldenOutputs(name)
        for cacheSize in [1, local.configuration.layerCount] {
            let client = WeightClient(configuration: WeightClient.Configuration(url: served.url))
            defer { client.close() }
            let streamed = try await StreamingBertModel(client: client, cacheSize: cacheSize, prefetchDepth: 1)
            for prefix in ["", "pair_"] {
                let batch = try golden.batch(prefix)
                let expected = try await local.forward(batch)
                let output = try await streamed.forward(batch)
                #expect(output.lastHiddenState == expected.lastHiddenState, "\(prefix), cache \(cacheSize)")
                #expect(output.poolerOutput == expected.poolerOutput, "\(prefix), cache \(cacheSize)")
            }
        }
    }
}
