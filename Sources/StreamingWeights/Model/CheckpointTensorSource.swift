import Foundation

/// The weights of a Hugging Face model directory: `config.json` and `model.safetensors`.
///
/// Checkpoint names are normalised as the chunker normalises them (docs/FORMAT.md): a `bert.`
/// prefix is dropped and `gamma`/`beta` read as `weight`/`bias`, so checkpoints saved from
/// `BertModel`, `BertForMaskedLM` or older TensorFlow conversions all load.
public struct CheckpointTensorSource: TensorSource {
    /// The model directory.
    public let directory: String
    private let file: SafetensorsFile
    private let weightsPath: String
    private let names: [String: String]
    private let config: BertConfiguration

    /// Opens the model in `directory`.
    ///
    /// - Throws: ``ModelError`` when config.json or the weights are missing or invalid,
    ///   ``SafetensorsError`` for a malformed weights file.
    public init(directory: String) throws {
        self.directory = directory
        config = try BertConfiguration(contentsOfFile: (directory as NSString).appendingPathComponent("config.json"))
        weightsPath = (directory as NSString).appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            throw ModelError.noWeights(directory: directory, tried: ["model.safetensors"])
        }
        file = try SafetensorsFile(contentsOfFile: weightsPath)
        var names: [String: String] = [:]
        for name in file.tensorNames {
            names[Self.normalized(name)] = name
        }
        self.names = names
    }

    /// A checkpoint name as the chunk format names it.
    static func normalized(_ name: String) -> String {
        var name = name
        if name.hasPrefix("bert.") { name.removeFirst(5) }
        if name.hasSuffix(".gamma") { name = String(name.dropLast(6)) + ".weight" }
        if name.hasSuffix(".beta") { name = String(name.dropLast(5)) + ".bias" }
        return name
    }

    public func configuration() async throws -> BertConfiguration { config }

    public func contains(_ component: ModelComponent) async throws -> Bool {
        let prefix = component.checkpointPrefix
        return names.keys.contains { $0.hasPrefix(prefix) }
    }

    public func tensors(of component: ModelComponent) async throws -> ComponentTensors {
        let prefix = component.checkpointPrefix
        var tensors: [String: Tensor] = [:]
        for (normalized, original) in names where normalized.hasPrefix(prefix) {
            tensors[String(normalized.dropFirst(prefix.count))] = file[original]
        }
        return ComponentTensors(component: component, tensors: tensors, source: weightsPath)
    }
}
