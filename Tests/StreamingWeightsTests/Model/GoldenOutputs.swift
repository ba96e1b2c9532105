import StreamingWeights
import Testing

/// Inputs and transformers' outputs from Fixtures/golden (see Fixtures/README.md).
struct GoldenOutputs {
    let file: SafetensorsFile

    init(_ name: String) throws {
        file = try SafetensorsFile(contentsOfFile: Repository.path("Fixtures/golden/\(name).safetensors"))
    }

    /// The padded batch stored under `prefix` (`""` for the sentences, `"pair_"` for the pairs).
    func batch(_ prefix: String = "") throws -> EncodedBatch {
        let ids = try file.tensor(named: prefix + "input_ids")
        func int32(_ name: String) throws -> [Int32] {
            try file.tensor(named: prefix + name).integerValues().map { Int32($0) }
        }
        return EncodedBatch(
            batchSize: ids.shape[0],
            sequenceLength: ids.shape[1],
            inputIDs: try int32("input_ids"),
            tokenTypeIDs: try int32("token_type_ids"),
            attentionMask: try int32("attention_mask")
        )
    }

    func floats(_ name: String) throws -> [Float] { try file.tensor(named: name).floatValues() }
}

/// The largest difference between `output` and the golden hidden states over real (unpadded) tokens.
func hiddenStateDifference(_ output: BertModelOutput, _ golden: [Float], batch: EncodedBatch) -> Float {
    var worst: Float = 0
    for index in 0..<(batch.batchSize * batch.sequenceLength) where batch.attentionMask[index] != 0 {
        for j in 0..<output.hiddenSize {
            let position = index * output.hiddenSize + j
            worst = max(worst, abs(output.lastHiddenState[position] - golden[position]))
        }
    }
    return worst
}

/// The path of all-MiniLM-L6-v2, which scripts/fetch-minilm puts in models/.
var miniLMDirectory: String { Repository.path("models/all-MiniLM-L6-v2") }
