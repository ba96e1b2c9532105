import Foundation
import StreamingWeights
import Testing

@Suite("Models that cannot load, and inputs that cannot run, fail with clear errors")
struct ModelErrorTests {
    static let tiny = Repository.path("Fixtures/bert-tiny")

    /// A copy of bert-tiny whose config.json has `changes` applied (a `nil` value removes the key),
    /// or whose config.json is `configText`, and whose weights are `weights` (default: the fixture's).
    static func modelDirectory(
        _ directory: TemporaryDirectory,
        changes: [String: Any?] = [:],
        configText: String? = nil,
        weights: SafetensorsWriter? = nil
    ) throws -> String {
        var config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tiny + "/config.json")))
            as? [String: Any] ?? [:]
        for (key, value) in changes { config[key] = value }
        let text = try configText ?? String(decoding: JSONSerialization.data(withJSONObject: config), as: UTF8.self)
        try text.write(toFile: directory.file("config.json"), atomically: true, encoding: .utf8)
        if let weights {
            try weights.write(toFile: directory.file("model.safetensors"))
        } else {
            try FileManager.default.createSymbolicLink(
                atPath: directory.file("model.safetensors"), withDestinationPath: tiny + "/model.safetensors")
        }
        return directory.path
    }

    static func loadError(_ directory: String) async -> String? {
        do {
            _ = try await BertModel(loadingFrom: CheckpointTensorSource(directory: directory))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("A missing config.json names the file")
    func missingConfig() async throws {
        let directory = try TemporaryDirectory()
        let error = await Self.loadError(directory.path)
        #expect(error == "cannot read the model configuration '\(directory.file("config.json"))'")
    }

    @Test(
        "Malformed config.json names the file and the problem",
        arguments: [
            ("{not json", "invalid JSON"), ("[1, 2]", "not an object"),
            (#"{"model_type": "bert"}"#, "'vocab_size' is missing"),
            (#"{"model_type": "bert", "vocab_size": "many"}"#, "'vocab_size' must be a positive integer"),
        ])
    func malformedConfig(text: String, problem: String) async throws {
        let directory = try TemporaryDirectory()
        let error = await Self.loadError(try Self.modelDirectory(directory, configText: text))
        #expect(error?.contains("the model configuration '\(directory.file("config.json"))' is invalid") == true)
        #expect(error?.contains(problem) == true, "\(error ?? "no error")")
    }

    @Test("A config whose sizes disagree with the weights names the tensor and both shapes")
    func sizeMismatch() async throws {
        let directory = try TemporaryDirectory()
        let error = await Self.loadError(try Self.modelDirectory(directory, changes: ["intermediate_size": 1024]))
        #expect(
            error
                == "layer_0 tensor 'intermediate.dense.weight' has shape [512, 128], but the configuration implies [1024, 128]"
        )
    }

    @Test("A missing tensor is named with its component and file")
    func missingTensor() async throws {
        let directory = try TemporaryDirectory()
        let fixture = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        var writer = SafetensorsWriter()
        for name in fixture.tensorNames where name != "encoder.layer.1.attention.self.key.bias" {
            try writer.add(try fixture.tensor(named: name), named: name)
        }
        let error = await Self.loadError(try Self.modelDirectory(directory, weights: writer))
        #expect(
            error
                == "layer_1 needs tensor 'attention.self.key.bias', which \(directory.file("model.safetensors")) does not have"
        )
    }

    @Test("A hidden size that does not split over the heads is refused")
    func hiddenSizeNotDivisible() async throws {
        let directory = try TemporaryDirectory()
        let error = await Self.loadError(try Self.modelDirectory(directory, changes: ["num_attention_heads": 3]))
        #expect(error == "hidden_size 128 is not divisible by num_attention_heads 3")
    }

    @Test("An unsupported model type says which are supported")
    func unsupportedModelType() async throws {
        let directory = try TemporaryDirectory()
        let error = await Self.loadError(try Self.modelDirectory(directory, changes: ["model_type": "gpt2"]))
        #expect(
            error
                == "model_type 'gpt2' is not supported (supported: bert, roberta, xlm-roberta, camembert, distilbert, mpnet)"
        )
        let other = try TemporaryDirectory()
        let activation = await Self.loadError(try Self.modelDirectory(other, changes: ["hidden_act": "relu"]))
        #expect(activation == "hidden_act 'relu' is not supported (supported: gelu)")
    }

    @Test("No weights file is named with what was looked for")
    func noWeights() async throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: directory.file("config.json"))
        let error = await Self.loadError(directory.path)
        #expect(
            error
                == "no weights in '\(directory.path)' (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin)"
        )
    }

    @Test("An empty batch, an id outside the vocabulary, and a sequence past the positions are refused")
    func badInputs() async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny))
        let empty = EncodedBatch(batchSize: 0, sequenceLength: 0, inputIDs: [], tokenTypeIDs: [], attentionMask: [])
        await #expect(throws: ModelError.emptyBatch) { _ = try await model.forward(empty) }
        let outside = EncodedBatch(
            batchSize: 1, sequenceLength: 2, inputIDs: [101, 30522], tokenTypeIDs: [0, 0], attentionMask: [1, 1])
        await #expect(throws: ModelError.idOutOfRange(kind: "token id", id: 30522, limit: 30522)) {
            _ = try await model.forward(outside)
        }
        let type = EncodedBatch(
            batchSize: 1, sequenceLength: 2, inputIDs: [101, 102], tokenTypeIDs: [0, 2], attentionMask: [1, 1])
        await #expect(throws: ModelError.idOutOfRange(kind: "token type id", id: 2, limit: 2)) {
            _ = try await model.forward(type)
        }
        let long = EncodedBatch(
            batchSize: 1, sequenceLength: 513, inputIDs: .init(repeating: 1000, count: 513),
            tokenTypeIDs: .init(repeating: 0, count: 513), attentionMask: .init(repeating: 1, count: 513))
        await #expect(throws: ModelError.sequenceTooLong(length: 513, maximum: 512)) {
            _ = try await model.forward(long)
        }
    }
}
