/// How a sentence-transformers model turns token states into a sentence embedding, as its own
/// files say: `modules.json` (the modules after the transformer, in order) and the `Pooling`
/// module's `config.json` (all-MiniLM-L6-v2: `1_Pooling/config.json`, mean pooling, then
/// `Normalize`).
///
/// Follows sentence-transformers' `models.Pooling` (every mode), `models.Dense` and
/// `models.Normalize`; a module this library does not run (`LayerNorm`, `CNN`, ...) is an error
/// naming it, never skipped.
public struct SentenceEmbeddingSettings: Sendable, Equatable {
    public var pooling: Pooling
    /// `Dense` modules applied to the pooled embedding, in order (distiluse's 768 -> 512, tanh).
    public var dense: [DenseModule]
    /// Whether the embedding is scaled to unit length (a `Normalize` module).
    public var normalize: Bool
    /// The longest input the model's `Transformer` module takes (`sentence_bert_config.json`'s
    /// `max_seq_length`: 256 for all-MiniLM-L6-v2, 384 for all-mpnet-base-v2), when it says.
    public var maximumSequenceLength: Int?

    /// The `Transformer` module's settings file.
    public static let transformerFile = "sentence_bert_config.json"

    /// The file that lists the modules.
    public static let modulesFile = "modules.json"

    /// The module types read, by sentence-transformers' class name (before 5.4; later versions'
    /// names, `sentence_transformers.base.modules.dense.Dense` and the like, are read as these).
    static let transformer = "sentence_transformers.models.Transformer"
    static let poolingModule = "sentence_transformers.models.Pooling"
    static let normalizeModule = "sentence_transformers.models.Normalize"
    static let denseModule = "sentence_transformers.models.Dense"
    static let supportedModules = [transformer, poolingModule, denseModule, normalizeModule]

    /// `Pooling`'s modes, by their key in the module's `config.json`.
    static let modes: [(key: String, pooling: Pooling)] = [
        ("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean), ("pooling_mode_max_tokens", .max),
        ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength), ("pooling_mode_weightedmean_tokens", .weightedMean),
        ("pooling_mode_lasttoken", .lastToken),
    ]

    public init(pooling: Pooling, dense: [DenseModule] = [], normalize: Bool, maximumSequenceLength: Int? = nil) {
        self.pooling = pooling
        self.dense = dense
        self.normalize = normalize
        self.maximumSequenceLength = maximumSequenceLength
    }

    /// The files besides `modules.json` that the modules it lists (`modules`, its bytes) read:
    /// `sentence_bert_config.json`, each `Pooling` module's `config.json`, and each `Dense`
    /// module's `config.json` and weights
    /// (`model.safetensors`, or `pytorch_model.bin` as older versions saved them; a model has
    /// one of the two).
    ///
    /// - Throws: ``SentenceEmbeddingError`` for a `modules.json` that is not a list of modules.
    public static func configurationFiles(modules: [UInt8], location: String) throws -> [String] {
        try [transformerFile]
            + Self.modules(modules, location: location).flatMap { module -> [String] in
                let prefix = module.path.isEmpty ? "" : module.path + "/"
                switch module.type {
                case poolingModule: return [prefix + "config.json"]
                case denseModule: return [prefix + "config.json"] + DenseModule.weightFiles.map { prefix + $0 }
                default: return []
                }
            }
    }

    /// The settings from `files`: `modules.json` and the files it names (paths relative to the
    /// model), read from `location` (for messages).
    ///
    /// - Throws: ``SentenceEmbeddingError`` naming the file and what is wrong: a module type
    ///   or pooling mode not supported, no pooling mode or several, a file missing or malformed.
    public init(files: [String: [UInt8]], location: String) throws {
        guard let listing = files[Self.modulesFile] else {
            throw SentenceEmbeddingError.missingFile(Self.modulesFile, location: location)
        }
        var pooling: Pooling?
        var dense: [DenseModule] = []
        var normalize = false
        for module in try Self.modules(listing, location: location) {
            switch module.type {
            case Self.transformer:
                continue
            case Self.poolingModule:
                let name = module.path.isEmpty ? "config.json" : module.path + "/config.json"
                guard let bytes = files[name] else {
                    throw SentenceEmbeddingError.missingFile(name, location: location)
                }
                pooling = try Self.poolingMode(bytes, file: name, location: location)
            case Self.denseModule:
                guard pooling != nil, !normalize else {
                    throw SentenceEmbeddingError.malformed(
                        file: Self.modulesFile, location: location,
                        reason:
                            "the Dense module at \"\(module.path)\" does not come after the pooling (and before Normalize)"
                    )
                }
                dense.append(try DenseModule(files: files, path: module.path, location: location))
            case Self.normalizeModule:
                normalize = true
            default:
                throw SentenceEmbeddingError.unsupportedModule(
                    module.type, path: module.path, location: location, supported: Self.supportedModules)
            }
        }
        guard let pooling else {
            throw SentenceEmbeddingError.malformed(
                file: Self.modulesFile, location: location, reason: "it lists no \(Self.poolingModule) module")
        }
        var maximumSequenceLength: Int?
        if let bytes = files[Self.transformerFile] {
            let value = try Self.json(bytes, file: Self.transformerFile, location: location)
            switch value.objectValue?["max_seq_length"] {
            case nil, .null?: break
            case .integer(let length)? where length > 0: maximumSequenceLength = Int(length)
            case let other?:
                throw SentenceEmbeddingError.malformed(
                    file: Self.transformerFile, location: location,
                    reason: "\"max_seq_length\" is \(other.serialized), not a positive integer")
            }
        }
        self.init(
            pooling: pooling, dense: dense, normalize: normalize, maximumSequenceLength: maximumSequenceLength)
    }

    /// `bytes` (the file `file`) parsed as JSON.
    static func json(_ bytes: [UInt8], file: String, location: String) throws -> JSONValue {
        do {
            return try bytes.withUnsafeBytes { try JSONParser.parse($0) }
        } catch {
            throw SentenceEmbeddingError.malformed(file: file, location: location, reason: "\(error)")
        }
    }

    /// The (type, path) of each module `modules.json` lists, in order.
    private static func modules(_ bytes: [UInt8], location: String) throws -> [(type: String, path: String)] {
        let file = modulesFile
        let value = try json(bytes, file: file, location: location)
        guard let list = value.arrayValue else {
            throw SentenceEmbeddingError.malformed(
                file: file, location: location, reason: "it is \(value.kindDescription), not a list of modules")
        }
        return try list.enumerated().map { index, entry in
            guard let object = entry.objectValue, let type = object["type"]?.stringValue else {
                throw SentenceEmbeddingError.malformed(
                    file: file, location: location, reason: "module \(index) has no \"type\" string")
            }
            let path = object["path"]?.stringValue ?? ""
            guard !path.split(separator: "/").contains("..") else {
                throw SentenceEmbeddingError.malformed(
                    file: file, location: location, reason: "module \(index)'s path \"\(path)\" leaves the model")
            }
            return (classicName(type), path)
        }
    }

    /// `type` under its name before sentence-transformers 5.4 when it is a later name of a
    /// supported module (`sentence_transformers.sentence_transformer.modules.pooling.Pooling`),
    /// else unchanged.
    private static func classicName(_ type: String) -> String {
        guard type.hasPrefix("sentence_transformers."), !supportedModules.contains(type),
            let last = type.split(separator: ".").last
        else { return type }
        return supportedModules.first { $0.hasSuffix("." + last) } ?? type
    }

    /// `Pooling`'s modes as sentence-transformers 5.4 and later name them in `pooling_mode`.
    static let modeNames: [(name: String, pooling: Pooling)] = [
        ("cls", .cls), ("mean", .mean), ("max", .max), ("mean_sqrt_len_tokens", .meanSqrtLength),
        ("weightedmean", .weightedMean), ("lasttoken", .lastToken),
    ]

    /// The one pooling mode a `Pooling` module's `config.json` turns on: `pooling_mode` (a
    /// name or a list of one), or one `pooling_mode_*` key set to true (before 5.4).
    private static func poolingMode(_ bytes: [UInt8], file: String, location: String) throws -> Pooling {
        let value = try json(bytes, file: file, location: location)
        guard let object = value.objectValue else {
            throw SentenceEmbeddingError.malformed(
                file: file, location: location, reason: "it is \(value.kindDescription), not an object")
        }
        if let mode = object["pooling_mode"] {
            guard let names = mode.stringValue.map({ [$0] }) ?? mode.arrayValue?.compactMap(\.stringValue),
                !names.isEmpty
            else {
                throw SentenceEmbeddingError.malformed(
                    file: file, location: location, reason: "\"pooling_mode\" is not a name or a list of names")
            }
            for name in names where !modeNames.contains(where: { $0.name == name }) {
                throw SentenceEmbeddingError.unknownPoolingMode(
                    name, file: file, location: location, supported: modeNames.map(\.name))
            }
            guard names.count == 1, let chosen = modeNames.first(where: { $0.name == names[0] }) else {
                throw SentenceEmbeddingError.poolingModes(names, file: file, location: location)
            }
            return chosen.pooling
        }
        var chosen: [String] = []
        for (key, setting) in object.members where key.hasPrefix("pooling_mode") {
            guard modes.contains(where: { $0.key == key }) else {
                throw SentenceEmbeddingError.unknownPoolingMode(
                    key, file: file, location: location, supported: modes.map(\.key))
            }
            guard case .bool(let on) = setting else {
                throw SentenceEmbeddingError.malformed(
                    file: file, location: location, reason: "\"\(key)\" is \(setting.kindDescription), not a boolean")
            }
            if on { chosen.append(key) }
        }
        guard chosen.count == 1, let mode = modes.first(where: { $0.key == chosen.first }) else {
            throw SentenceEmbeddingError.poolingModes(chosen, file: file, location: location)
        }
        return mode.pooling
    }
}

/// A sentence-transformers configuration this library cannot follow.
public enum SentenceEmbeddingError: Error, Hashable, CustomStringConvertible {
    /// A file the settings need is not there.
    case missingFile(String, location: String)
    /// A file that is not what sentence-transformers writes.
    case malformed(file: String, location: String, reason: String)
    /// A module type this library does not run (yet): `Dense`, `LayerNorm`, ...
    case unsupportedModule(String, path: String, location: String, supported: [String])
    /// A `pooling_mode_*` key sentence-transformers does not have.
    case unknownPoolingMode(String, file: String, location: String, supported: [String])
    /// No pooling mode turned on, or several (sentence-transformers concatenates them).
    case poolingModes([String], file: String, location: String)
    /// A `Dense` module's activation that is not one of ``DenseModule/Activation``.
    case unsupportedActivation(String, file: String, location: String, supported: [String])
    /// A `Dense` module given an embedding of another size (pooling chosen by hand on a model
    /// whose `Dense` expects the transformer's).
    case denseInputSize(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .missingFile(let file, let location):
            "\(location) has no \(file), which its sentence-transformers modules need"
        case .malformed(let file, let location, let reason):
            "\(location) \(file) is not a sentence-transformers configuration: \(reason)"
        case .unsupportedModule(let type, let path, let location, let supported):
            "\(location) modules.json lists \(type) (at \"\(path)\"), which is not supported yet; supported: "
                + supported.joined(separator: ", ") + " (give --pooling to use the transformer's states anyway)"
        case .unknownPoolingMode(let key, let file, let location, let supported):
            "\(location) \(file) names the pooling mode \"\(key)\", which sentence-transformers does not have; "
                + "supported: " + supported.joined(separator: ", ")
        case .unsupportedActivation(let name, let file, let location, let supported):
            "\(location) \(file) names the activation \(name), which is not supported; supported: "
                + supported.joined(separator: ", ")
        case .denseInputSize(let expected, let actual):
            "the Dense module takes embeddings of \(expected) values, not \(actual)"
        case .poolingModes(let keys, let file, let location):
            keys.isEmpty
                ? "\(location) \(file) turns on no pooling mode"
                : "\(location) \(file) turns on several pooling modes (\(keys.joined(separator: ", "))), "
                    + "whose concatenation is not supported; give --pooling"
        }
    }
}
