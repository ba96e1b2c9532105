import Foundation
import StreamingWeights
import Testing

@Suite("sentence-transformers settings: the model's own pooling and normalization")
struct SentenceEmbeddingTests {
    static let modules = """
        [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
         {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
        """

    /// `modules.json` and `1_Pooling/config.json` with these pooling modes on (and `extra`
    /// modules after the pooling).
    static func files(modes: [String: Bool], modules: String = modules) -> [String: [UInt8]] {
        let config =
            "{\"word_embedding_dimension\": 384, "
            + modes.map { "\"\($0.key)\": \($0.value)" }.sorted().joined(separator: ", ") + "}"
        return ["modules.json": Array(modules.utf8), "1_Pooling/config.json": Array(config.utf8)]
    }

    /// The golden sentences of Fixtures/golden, and sentence-transformers' embedding of each
    /// (mean pooling, then L2 normalization, computed by make_fixtures.py with transformers).
    static func golden() throws -> (sentences: [String], embeddings: [[Float]]) {
        let json = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/golden/sentences.json")))
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        let sentences = try #require(object["sentences"] as? [String])
        let flat = try GoldenOutputs("all-MiniLM-L6-v2").floats("sentence_embedding")
        return (sentences, sentences.indices.map { Array(flat[($0 * 384)..<(($0 + 1) * 384)]) })
    }

    static func expectSentenceTransformers(_ encoder: TextEncoder, _ label: String) async throws {
        let (sentences, embeddings) = try golden()
        let results = try await encoder.encode(sentences)
        #expect(results.pooling == .mean && results.normalized, "\(label)")
        for (result, theirs) in zip(results.texts, embeddings) {
            let cosine = zip(result.embedding, theirs).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(cosine >= 0.99999, "\(label), \(result.text.prefix(20)): cosine \(cosine)")
        }
    }

    @Test(
        "all-MiniLM-L6-v2 with no pooling asked for gives sentence-transformers' embeddings: from its directory, its chunk set and a weight server"
    )
    func miniLMDefaults() async throws {
        try await Self.expectSentenceTransformers(try await TextEncoder(modelDirectory: miniLMDirectory), "directory")
        let served = try await ServedChunks(model: miniLMDirectory)
        #expect(served.manifest.files["modules.json"] != nil && served.manifest.files["1_Pooling/config.json"] != nil)
        try await Self.expectSentenceTransformers(
            try await TextEncoder(chunksDirectory: served.directory.path), "chunk set")
        let streamed = try await StreamingBertModel(serverURL: served.url, cacheSize: 2)
        try await Self.expectSentenceTransformers(TextEncoder(streaming: streamed), "weight server")
        // Flags still override the model's settings.
        let cls = try await TextEncoder(streaming: streamed).encode(["Hello"], pooling: .cls, normalize: false)
        #expect(cls.pooling == .cls && !cls.normalized)
        // sentence_bert_config.json's max_seq_length (256) cuts long texts, as sentence-transformers does,
        // however the model arrives.
        for encoder in [
            try await TextEncoder(modelDirectory: miniLMDirectory),
            try await TextEncoder(chunksDirectory: served.directory.path), TextEncoder(streaming: streamed),
        ] {
            #expect(encoder.tokenizer.maximumLength == 256)
            let long = try await encoder.encode([String(repeating: "word ", count: 400)]).texts[0]
            #expect(long.inputIDs.count == 256 && long.truncatedCount == 402 - 256)
        }
    }

    @Test("A model without sentence-transformers files keeps cls pooling, unnormalized")
    func plainBert() async throws {
        let encoder = try await TextEncoder(modelDirectory: ModelChunkerTests.tiny)
        #expect(encoder.sentenceEmbedding == nil)
        let results = try await encoder.encode(["Hello"])
        #expect(results.pooling == .cls && !results.normalized)
    }

    @Test("The settings read: mean or cls pooling, with or without Normalize")
    func settings() throws {
        let mean = try SentenceEmbeddingSettings(
            files: Self.files(modes: ["pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false]),
            location: "m")
        #expect(mean == SentenceEmbeddingSettings(pooling: .mean, normalize: true))
        let withoutNormalize = """
            [{"path": "", "type": "sentence_transformers.models.Transformer"},
             {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
            """
        let cls = try SentenceEmbeddingSettings(
            files: Self.files(modes: ["pooling_mode_cls_token": true], modules: withoutNormalize), location: "m")
        #expect(cls == SentenceEmbeddingSettings(pooling: .cls, normalize: false))
        #expect(
            try SentenceEmbeddingSettings.configurationFiles(modules: Array(Self.modules.utf8), location: "m") == [
                "sentence_bert_config.json", "1_Pooling/config.json",
            ])
    }

    @Test("Every pooling mode of sentence-transformers is read")
    func everyMode() throws {
        let expected: [String: Pooling] = [
            "pooling_mode_cls_token": .cls, "pooling_mode_mean_tokens": .mean, "pooling_mode_max_tokens": .max,
            "pooling_mode_mean_sqrt_len_tokens": .meanSqrtLength, "pooling_mode_weightedmean_tokens": .weightedMean,
            "pooling_mode_lasttoken": .lastToken,
        ]
        for (key, pooling) in expected {
            var modes = Dictionary(uniqueKeysWithValues: expected.keys.map { ($0, false) })
            modes[key] = true
            #expect(try SentenceEmbeddingSettings(files: Self.files(modes: modes), location: "m").pooling == pooling)
        }
    }

    @Test(
        "Each pooling mode computes sentence-transformers' definition on all-MiniLM-L6-v2's padded batch (against transformers' states)"
    )
    func poolingModes() async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: miniLMDirectory))
        let golden = try GoldenOutputs("all-MiniLM-L6-v2")
        let batch = try golden.batch()
        let output = try await model.forward(batch)
        let states = try golden.floats("last_hidden_state")
        let (length, width) = (batch.sequenceLength, 384)
        for item in 0..<batch.batchSize {
            let real = (0..<length).filter { batch.attentionMask[item * length + $0] != 0 }
            /// Feature j of the token at `position`, as transformers computed it.
            func value(_ position: Int, _ j: Int) -> Float { states[(item * length + position) * width + j] }
            func weighted(_ weight: (Int) -> Float, _ divisor: Float) -> [Float] {
                (0..<width).map { j in real.reduce(0) { $0 + value($1, j) * weight($1) } / divisor }
            }
            let count = Float(real.count)
            let last = real.last ?? 0
            let references: [Pooling: [Float]] = [
                .mean: weighted({ _ in 1 }, count),
                .meanSqrtLength: weighted({ _ in 1 }, count.squareRoot()),
                .weightedMean: weighted({ Float($0 + 1) }, real.reduce(0) { $0 + Float($1 + 1) }),
                .max: (0..<width).map { j in real.map { value($0, j) }.max() ?? 0 },
                .lastToken: (0..<width).map { value(last, $0) },
            ]
            for (pooling, reference) in references {
                let ours = try output.embedding(ofRow: item, in: batch, pooling: pooling, normalize: false)
                #expect(maximumDifference(ours, reference) <= 1e-4, "\(pooling), sentence \(item)")
            }
        }
    }

    @Test("Settings this library does not follow are errors naming what is wrong")
    func badSettings() throws {
        func error(_ files: [String: [UInt8]]) -> SentenceEmbeddingError? {
            do {
                _ = try SentenceEmbeddingSettings(files: files, location: "model")
                return nil
            } catch {
                return error as? SentenceEmbeddingError
            }
        }
        let unknown = error(Self.files(modes: ["pooling_mode_median_tokens": true]))
        #expect(
            unknown
                == .unknownPoolingMode(
                    "pooling_mode_median_tokens", file: "1_Pooling/config.json", location: "model",
                    supported: [
                        "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                        "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                        "pooling_mode_lasttoken",
                    ]))
        #expect("\(unknown.map { "\($0)" } ?? "")".contains("pooling_mode_median_tokens"))
        #expect(
            error(Self.files(modes: ["pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true]))
                == .poolingModes(
                    ["pooling_mode_cls_token", "pooling_mode_mean_tokens"], file: "1_Pooling/config.json",
                    location: "model"))
        #expect(
            error(Self.files(modes: ["pooling_mode_mean_tokens": false]))
                == .poolingModes([], file: "1_Pooling/config.json", location: "model"))
        let layerNorm = Self.modules.replacingOccurrences(
            of: "\"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"",
            with: "\"2_LayerNorm\", \"type\": \"sentence_transformers.models.LayerNorm\"")
        let layerNormError = error(Self.files(modes: ["pooling_mode_mean_tokens": true], modules: layerNorm))
        #expect(
            "\(layerNormError.map { "\($0)" } ?? "")".contains(
                "sentence_transformers.models.LayerNorm (at \"2_LayerNorm\")"))
        var missing = Self.files(modes: ["pooling_mode_mean_tokens": true])
        missing["1_Pooling/config.json"] = nil
        #expect(error(missing) == .missingFile("1_Pooling/config.json", location: "model"))
        #expect(error([:]) == .missingFile("modules.json", location: "model"))
        if case .malformed? = error(["modules.json": Array("{not json".utf8)]) {
        } else {
            Issue.record("a modules.json that is not JSON is malformed")
        }
        let escaping = Self.modules.replacingOccurrences(of: "\"1_Pooling\"", with: "\"../1_Pooling\"")
        if case .malformed(_, _, let reason)? = error(Self.files(modes: [:], modules: escaping)) {
            #expect(reason.contains("leaves the model"))
        } else {
            Issue.record("a module path with .. is refused")
        }
    }

    @Test("A model whose modules.json has a module not supported yet: no default, but --pooling still works")
    func unsupportedModuleNeedsFlags() async throws {
        let directory = try TemporaryDirectory()
        for name in try FileManager.default.contentsOfDirectory(atPath: ModelChunkerTests.tiny) {
            try FileManager.default.copyItem(
                atPath: (ModelChunkerTests.tiny as NSString).appendingPathComponent(name),
                toPath: directory.file(name))
        }
        let layerNorm = Self.modules.replacingOccurrences(
            of: "\"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"",
            with: "\"2_LayerNorm\", \"type\": \"sentence_transformers.models.LayerNorm\"")
        for (name, bytes) in Self.files(modes: ["pooling_mode_mean_tokens": true], modules: layerNorm) {
            try FileManager.default.createDirectory(
                atPath: (directory.file(name) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: directory.file(name)))
        }
        let encoder = try await TextEncoder(modelDirectory: directory.path)
        await #expect {
            _ = try await encoder.encode(["Hello"])
        } throws: { error in
            "\(error)".contains("sentence_transformers.models.LayerNorm") && "\(error)".contains("--pooling")
        }
        let flagged = try await encoder.encode(["Hello"], pooling: .mean, normalize: true)
        #expect(flagged.pooling == .mean && flagged.normalized)
    }
}
