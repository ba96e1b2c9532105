import Foundation
import StreamingWeights
import Testing

/// sentence-transformers/all-mpnet-base-v2 (scripts/fetch-mpnet puts it in models/), against
/// sentence-transformers' own embeddings (Fixtures/golden/all-mpnet-base-v2.safetensors).
@Suite("all-mpnet-base-v2 gives sentence-transformers' embeddings")
struct RealModelTests {
    static let directory = Repository.path("models/all-mpnet-base-v2")

    @Test("Its tokenizer.json gives the golden padded ids, and the default embeddings match to cosine 0.99999")
    func mpnet() async throws {
        let golden = try GoldenOutputs("all-mpnet-base-v2")
        let data = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/golden/sentences.json")))
        let sentences =
            (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["sentences"] as? [String] ?? []
        let encoder = try await TextEncoder(modelDirectory: Self.directory)
        #expect(encoder.tokenizer is PipelineTokenizer)
        #expect(encoder.tokenizer.maximumLength == 384)
        let batch = try encoder.tokenizer.encodeBatch(sentences.map { try encoder.tokenizer.encode($0) })
        let ids = try golden.file.tensor(named: "input_ids").integerValues().map { Int32($0) }
        let mask = try golden.file.tensor(named: "attention_mask").integerValues().map { Int32($0) }
        #expect(batch.inputIDs == ids && batch.attentionMask == mask)
        let results = try await encoder.encode(sentences)
        #expect(results.pooling == .mean && results.normalized)
        let expected = try golden.floats("sentence_embedding")
        for (index, text) in results.texts.enumerated() {
            let reference = Array(expected[(index * 768)..<((index + 1) * 768)])
            let cosine = zip(text.embedding, reference).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(cosine >= 0.99999, "sentence \(index): cosine \(cosine)")
        }
    }
}
