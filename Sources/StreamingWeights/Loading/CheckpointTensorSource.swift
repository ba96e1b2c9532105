import Foundation

/// The weights of a Hugging Face model directory: `config.json` and a ``Checkpoint``
/// (`model.safetensors`, a sharded index, or `pytorch_model.bin`).
public struct CheckpointTensorSource: TensorSource {
    /// The model directory.
    public let directory: String
    /// The weights, under the chunk format's names.
    public let checkpoint: Checkpoint
    private let config: BertConfiguration

    /// Opens the model in `directory`.
    ///
    /// - Throws: ``ModelError`` when config.json is missing or invalid, ``CheckpointError`` when
    ///   the weights are missing, or the weights file's own error when it is malformed.
    public init(directory: String) throws {
        self.directory = directory
        config = try BertConfiguration(contentsOfFile: (directory as NSString).appendingPathComponent("config.json"))
        checkpoint = try Checkpoint(directory: directory)
    }

    public func configuration() async throws -> BertConfiguration { config }

    public func contains(_ component: ModelComponent) async throws -> Bool {
        let prefix = component.checkpointPrefix
        return checkpoint.tensorNames.contains { $0.hasPrefix(prefix) }
    }

    public func tensors(of component: ModelComponent) async throws -> ComponentTensors {
        let prefix = component.checkpointPrefix
        var tensors: [String: Tensor] = [:]
        for name in checkpoint.tensorNames where name.hasPrefix(prefix) {
            tensors[String(name.dropFirst(prefix.count))] = try checkpoint.tensor(named: name)
        }
        return ComponentTensors(component: component, tensors: tensors, source: checkpoint.weightsFile)
    }
}
