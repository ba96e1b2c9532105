/// The sum of word, position and token type embeddings, then a layer norm.
///
/// Follows `BertEmbeddings` in transformers' `modeling_bert.py` (absolute positions 0..<L), and
/// `RobertaEmbeddings` in `modeling_roberta.py` when the configuration says positions follow
/// padding.
public struct BertEmbeddings: Sendable {
    let configuration: BertConfiguration
    /// `[vocabularySize, hiddenSize]`, as stored (float32, float16 or bfloat16).
    ///
    /// The largest tensor of a BERT model, and a forward pass reads only its batch's rows: they
    /// are widened as they are read rather than the table copied, so a memory-mapped file stays
    /// on disk and a streamed one is held once, not twice.
    let wordEmbeddings: Tensor
    /// `[maximumPositions, hiddenSize]`.
    let positionEmbeddings: [Float]
    /// `[typeVocabularySize, hiddenSize]`; empty for a model without token types (DistilBERT).
    let tokenTypeEmbeddings: [Float]
    let layerNorm: LayerNorm

    /// Loads the `embeddings` component, normalised with `kernels` (by default
    /// ``KernelSet/selected(environment:)``).
    ///
    /// - Throws: ``ModelError`` for a missing or misshapen tensor, ``KernelSetError``.
    public init(_ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet? = nil) throws {
        let hidden = configuration.hiddenSize
        self.configuration = configuration
        wordEmbeddings = try tensors.tensor("word_embeddings.weight", shape: [configuration.vocabularySize, hidden])
        positionEmbeddings = try tensors.floats(
            "position_embeddings.weight",
            shape: [configuration.maximumPositions, hidden]
        )
        tokenTypeEmbeddings =
            configuration.typeVocabularySize == 0
            ? []
            : try tensors.floats("token_type_embeddings.weight", shape: [configuration.typeVocabularySize, hidden])
        layerNorm = try LayerNorm(
            tensors.scoped("LayerNorm"), width: hidden, epsilon: configuration.layerNormEpsilon,
            kernels: try kernels ?? KernelSet.selected())
    }

    /// The position id of the token `id` at `column` of its row: the column, or for RoBERTa's
    /// family `padTokenID` for padding and `padTokenID` plus the count of real tokens so far
    /// (``BertConfiguration/positionsFollowPadding``).
    @inline(__always)
    private func positionID(of id: Int32, column: Int, realTokens: inout Int) -> Int {
        guard configuration.positionsFollowPadding else { return column }
        let padding = configuration.padTokenID
        guard Int(id) != padding else { return padding }
        realTokens += 1
        return padding + realTokens
    }

    /// Writes the embedded batch, `[batchSize * sequenceLength, hiddenSize]`, to `output`.
    ///
    /// - Precondition: the batch's ids were checked against the vocabulary sizes.
    func forward(_ batch: EncodedBatch, into output: UnsafeMutablePointer<Float>) {
        let hidden = configuration.hiddenSize
        let rowBytes = hidden * wordEmbeddings.dtype.byteCount
        var word = [Float](repeating: 0, count: hidden)
        wordEmbeddings.withUnsafeBytes { words in
            positionEmbeddings.withUnsafeBufferPointer { positions in
                tokenTypeEmbeddings.withUnsafeBufferPointer { types in
                    word.withUnsafeMutableBufferPointer { word in
                        for row in 0..<batch.batchSize {
                            var realTokens = 0
                            for column in 0..<batch.sequenceLength {
                                let index = row * batch.sequenceLength + column
                                let position = positionID(
                                    of: batch.inputIDs[index], column: column, realTokens: &realTokens)
                                let start = Int(batch.inputIDs[index]) * rowBytes
                                FloatConversion.convert(
                                    UnsafeRawBufferPointer(rebasing: words[start..<(start + rowBytes)]),
                                    from: wordEmbeddings.dtype, toFloat32: word)
                                let out = output + index * hidden
                                if types.isEmpty {
                                    for j in 0..<hidden { out[j] = word[j] + positions[position * hidden + j] }
                                } else {
                                    let type = Int(batch.tokenTypeIDs[index]) * hidden
                                    for j in 0..<hidden {
                                        out[j] = word[j] + types[type + j] + positions[position * hidden + j]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        layerNorm.forward(output, residual: nil, rows: batch.batchSize * batch.sequenceLength, into: output)
    }
}
