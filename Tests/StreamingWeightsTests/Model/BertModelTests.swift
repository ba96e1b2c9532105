import Foundation
import StreamingWeights
import Testing

@Suite("BERT forward pass against transformers")
struct BertModelTests {
    static let tiny = Repository.path("Fixtures/bert-tiny")

    @Test("bert-tiny matches transformers to 1e-4, padded batch and sentence pairs, 1 and 2 threads")
    func bertTinyMatchesTransformers() async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny))
        let golden = try GoldenOutputs("bert-tiny")
        for prefix in ["", "pair_"] {
            let batch = try golden.batch(prefix)
            for threads in [ComputeThreads.single, ComputeThreads(count: 2, minimumWorkPerThread: 1)] {
                let output = try model.forward(batch, threads: threads)
                let expected = try golden.floats(prefix + "last_hidden_state")
                #expect(
                    hiddenStateDifference(output, expected, batch: batch) <= 1e-4, "\(prefix) threads \(threads.count)")
                let pooler = try #require(output.poolerOutput)
                #expect(maximumDifference(pooler, try golden.floats(prefix + "pooler_output")) <= 1e-4)
            }
        }
    }

    @Test("all-MiniLM-L6-v2 matches transformers to 1e-4 and sentence-transformers' embeddings to cosine 0.99999")
    func miniLMMatchesTransformers() async throws {
        let source = try CheckpointTensorSource(directory: miniLMDirectory)
        let model = try await BertModel(loadingFrom: source)
        let golden = try GoldenOutputs("all-MiniLM-L6-v2")
        let batch = try golden.batch()
        let output = try model.forward(batch)
        #expect(hiddenStateDifference(output, try golden.floats("last_hidden_state"), batch: batch) <= 1e-4)
        #expect(maximumDifference(try #require(output.poolerOutput), try golden.floats("pooler_output")) <= 1e-4)
        let sentences = try golden.floats("sentence_embedding")
        for item in 0..<batch.batchSize {
            let ours = try output.embedding(ofRow: item, in: batch, pooling: .mean, normalize: true)
            let theirs = Array(sentences[(item * 384)..<((item + 1) * 384)])
            let cosine = zip(ours, theirs).reduce(0) { $0 + $1.0 * $1.1 }
            #expect(cosine >= 0.99999, "sentence \(item): cosine \(cosine)")
        }
        let pairs = try golden.batch("pair_")
        #expect(
            hiddenStateDifference(try model.forward(pairs), try golden.floats("pair_last_hidden_state"), batch: pairs)
                <= 1e-4)
    }

    @Test("One sentence alone gives the same states as in the padded batch")
    func paddingDoesNotLeak() async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny))
        let batch = try GoldenOutputs("bert-tiny").batch()
        let together = try model.forward(batch)
        for item in 0..<batch.batchSize {
            let count = batch.tokenCount(ofRow: item)
            let start = item * batch.sequenceLength
            let alone = EncodedBatch(
                batchSize: 1,
                sequenceLength: count,
                inputIDs: Array(batch.inputIDs[start..<(start + count)]),
                tokenTypeIDs: Array(batch.tokenTypeIDs[start..<(start + count)]),
                attentionMask: Array(repeating: 1, count: count)
            )
            let single = try model.forward(alone)
            #expect(
                maximumDifference(
                    Array(single.lastHiddenState), Array(together.hiddenStates(ofRow: item, tokenCount: count))) <= 2e-5
            )
        }
    }

    @Test("A chunk directory, plain or gzip-compressed, gives exactly the checkpoint's outputs")
    func chunkDirectoryEqualsCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        let checkpoint = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        let components: [(String, String)] = [
            ("embeddings", "embeddings."), ("layer_0", "encoder.layer.0."), ("layer_1", "encoder.layer.1."),
            ("pooler", "pooler."),
        ]
        for compress in [false, true] {
            let chunks = directory.file(compress ? "compressed" : "plain")
            try FileManager.default.createDirectory(atPath: chunks, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: chunks + "/config.json")
            for (name, prefix) in components {
                var writer = SafetensorsWriter()
                for tensorName in checkpoint.tensorNames where tensorName.hasPrefix(prefix) {
                    try writer.add(
                        try checkpoint.tensor(named: tensorName), named: String(tensorName.dropFirst(prefix.count)))
                }
                try writer.write(toFile: "\(chunks)/\(name).safetensors")
                if compress {
                    try Gzip.compressFile(
                        atPath: "\(chunks)/\(name).safetensors", toPath: "\(chunks)/\(name).safetensors.gz")
                    try FileManager.default.removeItem(atPath: "\(chunks)/\(name).safetensors")
                }
            }
            let batch = try GoldenOutputs("bert-tiny").batch()
            let fromChunks = try await BertModel(loadingFrom: ChunkDirectoryTensorSource(directory: chunks)).forward(
                batch, threads: .single)
            let fromCheckpoint = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny)).forward(
                batch, threads: .single)
            #expect(fromChunks.lastHiddenState == fromCheckpoint.lastHiddenState)
            #expect(fromChunks.poolerOutput == fromCheckpoint.poolerOutput)
        }
    }
}
