/// The sum of word, position and token type embeddings, then a layer norm.
///
/// Follows `BertEmbeddings` in transformers' `modeling_bert.py` (absolute positions 0..<L).
public struct BertEmbeddings: Sendable {
    let configuration: BertConfiguration
    /// `[vocabularySize, hiddenSize]`.
    let wordEmbeddings: [Float]
    /// `[maximumPositions, hiddenSize]`.
    let positionEmbeddings: [Float]
    /// `[typeVocabularySize, hiddenSize]`.
    let tokenTypeEmbeddings: [Float]
    let layerNorm: LayerNormParameters

    /// Loads the `embeddings` component.
    public init(_ tensors: ComponentTensors, configuration: BertConfiguration) throws {
        let hidden = configuration.hiddenSize
        self.configuration = configuration
        wordEmbeddings = try tensors.floats("word_embeddings.weight", shape: [configuration.vocabularySize, hidden])
        positionEmbeddings = try tensors.floats(
            "position_embeddings.weight",
            shape: [configuration.maximumPositions, hidden]
        )
        tokenTypeEmbeddings = try tensors.floats(
            "token_type_embeddings.weight",
            shape: [configuration.typeVocabularySize, hidden]
        )
        layerNorm = try LayerNormParameters(
            tensors, "LayerNorm", width: hidden, epsilon: configuration.layerNormEpsilon)
    }

    /// Writes the embedded batch, `[batchSize * sequenceLength, hiddenSize]`, to `output`.
    ///
    /// - Precondition: the batch's ids were checked against the vocabulary sizes.
    func forward(_ batch: EncodedBatch, into output: UnsafeMutablePointer<Float>) {
        let hidden = configuration.hiddenSize
        wordEmbeddings.withUnsafeBufferPointer { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
                tokenTypeEmbeddings.withUnsafeBufferPointer { types in
                    for row in 0..<batch.batchSize {
                        for position in 0..<batch.sequenceLength {
                            let index = row * batch.sequenceLength + position
                            let word = Int(batch.inputIDs[index]) * hidden
                            let type = Int(batch.tokenTypeIDs[index]) * hidden
                            let out = output + index * hidden
                            for j in 0..<hidden {
                                out[j] = words[word + j] + types[type + j] + positions[position * hidden + j]
                            }
                        }
                    }
                }
            }
        }
        layerNorm.apply(output, residual: nil, rows: batch.batchSize * batch.sequenceLength, into: output)
    }

    /// The bytes held.
    var byteCount: Int { (wordEmbeddings.count + positionEmbeddings.count + tokenTypeEmbeddings.count) * 4 }
}
