import Foundation

/// tanh(dense(first token)): BERT's pooled output, as `BertPooler` in `modeling_bert.py`.
public struct BertPooler: Sendable {
    let dense: Linear

    /// Loads the `pooler` component: `dense.weight` `[hidden, hidden]` and `dense.bias`, packed
    /// for `kernels` (by default ``KernelSet/selected(environment:)``).
    ///
    /// - Throws: ``ModelError`` for a missing or misshapen tensor, ``KernelSetError``.
    public init(_ tensors: ComponentTensors, configuration: BertConfiguration, kernels: KernelSet? = nil) throws {
        dense = try Linear(
            tensors.scoped("dense"),
            inFeatures: configuration.hiddenSize,
            outFeatures: configuration.hiddenSize,
            kernels: try kernels ?? KernelSet.selected()
        )
    }

    /// The pooled output `[batchSize, hidden]` of `hidden` `[batchSize, sequenceLength, hidden]`.
    func forward(_ hidden: UnsafePointer<Float>, batchSize: Int, sequenceLength: Int) -> [Float] {
        let width = dense.inFeatures
        var first = [Float](repeating: 0, count: batchSize * width)
        var pooled = [Float](repeating: 0, count: batchSize * width)
        for item in 0..<batchSize {
            for j in 0..<width { first[item * width + j] = hidden[item * sequenceLength * width + j] }
        }
        first.withUnsafeBufferPointer { input in
            pooled.withUnsafeMutableBufferPointer { output in
                // swift-format-ignore: NeverForceUnwrap
                // Both arrays hold batchSize * hidden floats, at least one row.
                dense.forward(input.baseAddress!, rows: batchSize, into: output.baseAddress!, threads: .single)
            }
        }
        return pooled.map { Foundation.tanh($0) }
    }
}
