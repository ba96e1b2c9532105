import Foundation

/// The weights of a Hugging Face model directory, whichever format holds them, under the names
/// the chunk format uses.
///
/// Reads `model.safetensors`, a sharded `model.safetensors.index.json`, or (through
/// ``PyTorchCheckpoint``, which never executes code) `pytorch_model.bin`, in that order of
/// preference. Names are normalised as docs/FORMAT.md says: a `bert.`, `roberta.` or `distilbert.`
/// prefix dropped, DistilBERT's `transformer.layer.` read as `encoder.layer.`,
/// `gamma`/`beta` read as `weight`/`bias`; tensors outside the encoder (`cls.*` heads, the
/// `embeddings.position_ids` buffer, task heads) are listed in ``skippedNames`` instead.
public struct Checkpoint: Sendable {
    /// The files a checkpoint may be in, by preference.
    public static let weightFiles = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"]

    /// The model directory.
    public let directory: String
    /// The weights file read (or the shard index).
    public let weightsFile: String
    /// The encoder's tensors by normalised name, each with its file.
    private let entries: [String: (file: Int, name: String)]
    private let files: [TensorFile]
    /// Normalised names, sorted.
    public let tensorNames: [String]
    /// Names in the checkpoint that are not part of the encoder, as written there.
    public let skippedNames: [String]

    /// An opened weights file.
    enum TensorFile: Sendable {
        case safetensors(SafetensorsFile)
        case pytorch(PyTorchCheckpoint)

        var names: [String] {
            switch self {
            case .safetensors(let file): file.tensorNames
            case .pytorch(let file): file.tensorNames
            }
        }

        func tensor(named name: String, source: String) throws -> Tensor {
            switch self {
            case .safetensors(let file): try file.tensor(named: name, source: source)
            case .pytorch(let file): try file.tensor(named: name)
            }
        }
    }

    /// Whether `directory` looks like a model directory: `config.json` and a weights file.
    public static func holdsModel(directory: String) -> Bool {
        func exists(_ name: String) -> Bool {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(name))
        }
        return exists("config.json") && weightFiles.contains(where: exists)
    }

    /// Opens the weights in `directory`.
    ///
    /// - Throws: ``CheckpointError`` when no weights file exists, a shard is missing, or a
    ///   file is malformed (``SafetensorsError``, ``PyTorchCheckpointError``).
    public init(directory: String) throws {
        self.directory = directory
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        guard let chosen = Self.weightFiles.first(where: { FileManager.default.fileExists(atPath: path($0)) }) else {
            throw CheckpointError.noWeights(directory: directory, tried: Self.weightFiles)
        }
        weightsFile = path(chosen)
        var files: [TensorFile] = []
        var sources: [String] = []
        switch chosen {
        case "model.safetensors":
            files = [.safetensors(try SafetensorsFile(contentsOfFile: weightsFile))]
            sources = [weightsFile]
        case "pytorch_model.bin":
            files = [.pytorch(try PyTorchCheckpoint(contentsOfFile: weightsFile))]
            sources = [weightsFile]
        default:
            for shard in try Self.shards(inIndex: weightsFile) {
                let shardPath = path(shard)
                guard FileManager.default.fileExists(atPath: shardPath) else {
                    throw CheckpointError.missingShard(index: weightsFile, shard: shard)
                }
                files.append(.safetensors(try SafetensorsFile(contentsOfFile: shardPath)))
                sources.append(shardPath)
            }
        }
        var entries: [String: (file: Int, name: String)] = [:]
        var skipped: [String] = []
        for (index, file) in files.enumerated() {
            for name in file.names {
                let normalized = Self.normalized(name)
                guard Self.isEncoderTensor(normalized) else {
                    skipped.append(name)
                    continue
                }
                guard entries[normalized] == nil else {
                    throw CheckpointError.duplicateTensor(normalized, file: sources[index])
                }
                entries[normalized] = (index, name)
            }
        }
        self.files = files
        self.entries = entries
        tensorNames = entries.keys.sorted()
        skippedNames = skipped.sorted()
    }

    /// The tensor with normalised name `name`.
    ///
    /// - Throws: ``CheckpointError/missingTensor(_:file:)``.
    public func tensor(named name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw CheckpointError.missingTensor(name, file: weightsFile) }
        return try files[entry.file].tensor(named: entry.name, source: weightsFile)
    }

    /// Whether the checkpoint has the tensor.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// A checkpoint name as the chunk format names it.
    public static func normalized(_ name: String) -> String {
        var name = name
        for prefix in ["bert.", "roberta.", "distilbert.", "mpnet."] where name.hasPrefix(prefix) {
            name.removeFirst(prefix.count)
        }
        // DistilBERT's layers are `transformer.layer.N`, the others' `encoder.layer.N`.
        if name.hasPrefix("transformer.layer.") { name = "encoder." + name.dropFirst("transformer.".count) }
        // A sequence-classification head is the `head` component (DistilBERT's has a
        // `pre_classifier` before its `classifier`).
        if name.hasPrefix("classifier.") { name = "head." + name.dropFirst("classifier.".count) }
        if name.hasPrefix("pre_classifier.") { name = "head." + name }
        // MPNet's position bias serves every layer: the `shared` component.
        if name.hasPrefix("encoder.relative_attention_bias.") { name = "shared." + name.dropFirst("encoder.".count) }
        if name.hasSuffix(".gamma") { name = String(name.dropLast(6)) + ".weight" }
        if name.hasSuffix(".beta") { name = String(name.dropLast(5)) + ".bias" }
        return name
    }

    /// Whether a normalised name belongs to the encoder: embeddings (but not the position id
    /// buffer), encoder layers, pooler.
    static func isEncoderTensor(_ name: String) -> Bool {
        guard name != "embeddings.position_ids", name != "embeddings.token_type_ids" else { return false }
        return name.hasPrefix("embeddings.") || name.hasPrefix("encoder.layer.") || name.hasPrefix("pooler.")
            || name.hasPrefix("shared.") || name.hasPrefix("head.")
    }

    /// The shard file names of a `model.safetensors.index.json`, each once, in order.
    static func shards(inIndex path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError(path: path, operation: "read", code: EIO)
        }
        let value: JSONValue
        do {
            value = try Array(data).withUnsafeBytes { try JSONParser.parse($0) }
        } catch {
            throw CheckpointError.invalidIndex(path: path, problem: "\(error)")
        }
        guard let map = value.objectValue?["weight_map"]?.objectValue else {
            throw CheckpointError.invalidIndex(path: path, problem: "it has no 'weight_map' object")
        }
        var shards: [String] = []
        for (tensor, shard) in map.members {
            guard let shard = shard.stringValue else {
                throw CheckpointError.invalidIndex(path: path, problem: "'\(tensor)' does not map to a file name")
            }
            guard !shard.contains("/"), !shard.hasPrefix(".") else {
                throw CheckpointError.invalidIndex(
                    path: path, problem: "shard '\(shard)' is not a file in the model directory")
            }
            if !shards.contains(shard) { shards.append(shard) }
        }
        return shards
    }
}

/// A model directory whose weights cannot be read.
public enum CheckpointError: Error, Hashable, CustomStringConvertible {
    case noWeights(directory: String, tried: [String])
    case missingShard(index: String, shard: String)
    case invalidIndex(path: String, problem: String)
    case duplicateTensor(String, file: String)
    case missingTensor(String, file: String)

    public var description: String {
        switch self {
        case .noWeights(let directory, let tried):
            "no weights in '\(directory)' (looked for \(tried.joined(separator: ", ")))"
        case .missingShard(let index, let shard):
            "'\(index)' names shard '\(shard)', which does not exist"
        case .invalidIndex(let path, let problem):
            "the shard index '\(path)' is invalid: \(problem)"
        case .duplicateTensor(let name, let file):
            "tensor '\(name)' appears twice (again in '\(file)') once names are normalised"
        case .missingTensor(let name, let file):
            "'\(file)' has no tensor '\(name)'"
        }
    }
}
