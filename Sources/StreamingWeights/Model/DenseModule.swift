import Foundation

/// sentence-transformers' `models.Dense`: a linear layer and an activation applied to the
/// pooled embedding (distiluse-base-multilingual: 768 -> 512, tanh).
///
/// Read from the module's folder (`2_Dense/`): `config.json` (`in_features`, `out_features`,
/// `bias`, `activation_function` as a torch class name) and the weights, `linear.weight`
/// `[out, in]` and `linear.bias` `[out]`, from `model.safetensors` or an older
/// `pytorch_model.bin` (read without running its pickle, like any checkpoint here).
public struct DenseModule: Sendable, Equatable {
    public let inFeatures: Int
    public let outFeatures: Int
    /// `[outFeatures, inFeatures]`.
    let weight: [Float]
    /// `[outFeatures]`, or empty without a bias.
    let bias: [Float]
    public let activation: Activation

    /// The activations sentence-transformers' `Dense` may name, by torch class.
    public enum Activation: String, Sendable, CaseIterable {
        case tanh = "torch.nn.modules.activation.Tanh"
        case identity = "torch.nn.modules.linear.Identity"
        case relu = "torch.nn.modules.activation.ReLU"
        case sigmoid = "torch.nn.modules.activation.Sigmoid"
        case gelu = "torch.nn.modules.activation.GELU"

        func callAsFunction(_ value: Float) -> Float {
            switch self {
            case .tanh: Foundation.tanh(value)
            case .identity: value
            case .relu: max(0, value)
            case .sigmoid: 1 / (1 + Foundation.exp(-value))
            case .gelu: 0.5 * value * (1 + Foundation.erf(value / Float(2).squareRoot()))
            }
        }
    }

    /// The weight files a `Dense` folder may hold, by preference.
    static let weightFiles = ["model.safetensors", "pytorch_model.bin"]

    /// Reads the module at `path` (relative to the model) from `files`, by path.
    ///
    /// - Throws: ``SentenceEmbeddingError`` naming the file: missing, malformed, an activation
    ///   not listed in ``Activation``, or weights whose shapes disagree with the configuration.
    init(files: [String: [UInt8]], path: String, location: String) throws {
        let prefix = path.isEmpty ? "" : path + "/"
        let configName = prefix + "config.json"
        guard let configBytes = files[configName] else {
            throw SentenceEmbeddingError.missingFile(configName, location: location)
        }
        func malformed(_ file: String, _ reason: String) -> SentenceEmbeddingError {
            .malformed(file: file, location: location, reason: reason)
        }
        guard
            let config = try SentenceEmbeddingSettings.json(configBytes, file: configName, location: location)
                .objectValue
        else { throw malformed(configName, "it is not an object") }
        guard let inFeatures = config["in_features"]?.integerValue, inFeatures > 0,
            let outFeatures = config["out_features"]?.integerValue, outFeatures > 0
        else { throw malformed(configName, "in_features and out_features must be positive integers") }
        let hasBias = if case .bool(false)? = config["bias"] { false } else { true }
        let activationName = config["activation_function"]?.stringValue ?? Activation.tanh.rawValue
        guard let activation = Activation(rawValue: activationName) else {
            throw SentenceEmbeddingError.unsupportedActivation(
                activationName, file: configName, location: location, supported: Activation.allCases.map(\.rawValue))
        }
        guard let weightsName = Self.weightFiles.map({ prefix + $0 }).first(where: { files[$0] != nil }),
            let bytes = files[weightsName]
        else { throw SentenceEmbeddingError.missingFile(prefix + Self.weightFiles[0], location: location) }
        // The weights file parsed once, for both tensors.
        let tensor: (String) throws -> Tensor
        do {
            let storage = ByteStorage(bytes)
            if weightsName.hasSuffix(".bin") {
                let checkpoint = try PyTorchCheckpoint(storage: storage, source: weightsName)
                tensor = { try checkpoint.tensor(named: $0) }
            } else {
                let file = try SafetensorsFile(storage: storage, source: weightsName)
                tensor = { try file.tensor(named: $0, source: weightsName) }
            }
        } catch {
            throw malformed(weightsName, "\(error)")
        }
        func floats(_ name: String, _ shape: [Int]) throws -> [Float] {
            let values: Tensor
            do { values = try tensor(name) } catch { throw malformed(weightsName, "\(error)") }
            guard values.shape.dimensions == shape, values.dtype.isFloatingPoint else {
                throw malformed(weightsName, "'\(name)' is \(values.dtype) \(values.shape), not floats of \(shape)")
            }
            do { return try values.floatValues() } catch { throw malformed(weightsName, "\(error)") }
        }
        self.inFeatures = Int(inFeatures)
        self.outFeatures = Int(outFeatures)
        weight = try floats("linear.weight", [Int(outFeatures), Int(inFeatures)])
        bias = hasBias ? try floats("linear.bias", [Int(outFeatures)]) : []
        self.activation = activation
    }

    /// activation(weight · `input` + bias).
    ///
    /// - Throws: ``SentenceEmbeddingError/denseInputSize(expected:actual:)`` when the embedding
    ///   is not `inFeatures` long.
    func apply(_ input: [Float]) throws -> [Float] {
        guard input.count == inFeatures else {
            throw SentenceEmbeddingError.denseInputSize(expected: inFeatures, actual: input.count)
        }
        return (0..<outFeatures).map { row in
            var sum: Float = bias.isEmpty ? 0 : bias[row]
            for column in 0..<inFeatures { sum += weight[row * inFeatures + column] * input[column] }
            return activation(sum)
        }
    }
}
