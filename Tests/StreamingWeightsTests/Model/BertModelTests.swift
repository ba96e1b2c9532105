import Foundation
import StreamingWeights
import Testing

@Suite("BERT forward pass against transformers")
struct BertModelTests {
    static let tiny = Repository.path("Fixtures/bert-tiny")

    @Test(
        "bert-tiny matches transformers to 1e-4, padded batch and sentence pairs, 1 and 2 threads, with every kernel set",
        arguments: KernelSet.supported.map(\.name))
    func bertTinyMatchesTransformers(kernels: String) async throws {
        let set = try KernelSet.selected(environment: ["STREAMING_WEIGHTS_KERNELS": kernels])
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny), kernels: set)
        let golden = try GoldenOutputs("bert-tiny")
        for prefix in ["", "pair_"] {
            let batch = try golden.batch(prefix)
            for threads in [ComputeThreads.single, ComputeThreads(count: 2, minimumWorkPerThread: 1)] {
                let output = try await model.forward(batch, threads: threads)
                let expected = try golden.floats(prefix + "last_hidden_state")
                #expect(
                    hiddenStateDifference(output, expected, batch: batch) <= 1e-4, "\(prefix) threads \(threads.count)")
                let pooler = try #require(output.poolerOutput)
                #expect(maximumDifference(pooler, try golden.floats(prefix + "pooler_output")) <= 1e-4)
            }
        }
    }

    @Test(
        "all-MiniLM-L6-v2 matches transformers to 1e-4 and sentence-transformers' embeddings to cosine 0.99999, with every kernel set",
        arguments: KernelSet.supported.map(\.name))
    func miniLMMatchesTransformers(kernels: String) async throws {
        let source = try CheckpointTensorSource(directory: miniLMDirectory)
        let set = try KernelSet.selected(environment: ["STREAMING_WEIGHTS_KERNELS": kernels])
        let model = try await BertModel(loadingFrom: source, kernels: set)
        let golden = try GoldenOutputs("all-MiniLM-L6-v2")
        let batch = try golden.batch()
        let output = try await model.forward(batch)
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
            hiddenStateDifference(
                try await model.forward(pairs), try golden.floats("pair_last_hidden_state"), batch: pairs)
                <= 1e-4)
    }

    @Test("One sentence alone gives the same states as in the padded batch")
    func paddingDoesNotLeak() async throws {
        let model = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny))
        let batch = try GoldenOutputs("bert-tiny").batch()
        let together = try await model.forward(batch)
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
            let single = try await model.forward(alone)
            #expect(
                maximumDifference(
                    Array(single.lastHiddenState), Array(together.hiddenStates(ofRow: item, tokenCount: count))) <= 2e-5
            )
        }
    }

    @Test("A chunk directory, plain or gzip-compressed, gives exactly the checkpoint's outputs")
    func chunkDirectoryEqualsCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        for compress in [false, true] {
            let chunks = directory.file(compress ? "compressed" : "plain")
            _ = try await ModelChunker(modelName: Self.tiny, outputDirectory: chunks, compress: compress).chunkModel()
            let batch = try GoldenOutputs("bert-tiny").batch()
            let fromChunks = try await BertModel(loadingFrom: RemoteTensorSource(chunkDirectory: chunks)).forward(
                batch, threads: .single)
            let fromCheckpoint = try await BertModel(loadingFrom: CheckpointTensorSource(directory: Self.tiny)).forward(
                batch, threads: .single)
            #expect(fromChunks.lastHiddenState == fromCheckpoint.lastHiddenState)
            #expect(fromChunks.poolerOutput == fromCheckpoint.poolerOutput)
        }
    }
}
