/// One part of a BERT model, loaded (and, when streamed, fetched) as a unit.
public enum ModelComponent: Hashable, Sendable, CustomStringConvertible {
    case embeddings
    /// Encoder layer i, from 0.
    case layer(Int)
    case pooler

    /// The chunk name: `embeddings`, `layer_3`, `pooler`.
    public var name: String {
        switch self {
        case .embeddings: "embeddings"
        case .layer(let index): "layer_\(index)"
        case .pooler: "pooler"
        }
    }

    /// The prefix of this component's tensors in a Hugging Face `BertModel` checkpoint.
    public var checkpointPrefix: String {
        switch self {
        case .embeddings: "embeddings."
        case .layer(let index): "encoder.layer.\(index)."
        case .pooler: "pooler."
        }
    }

    public var description: String { name }
}

/// Where a model's weights come from.
///
/// A checkpoint directory, a chunk directory, or (later) a weight server: the model's math asks
/// only this, so every source runs the same code.
public protocol TensorSource: Sendable {
    /// The model's configuration.
    func configuration() async throws -> BertConfiguration

    /// Whether the model has `component` (a model may lack a pooler).
    func contains(_ component: ModelComponent) async throws -> Bool

    /// The tensors of `component`, named relative to it (`attention.self.query.weight`).
    ///
    /// - Throws: an error naming the component when it cannot be read.
    func tensors(of component: ModelComponent) async throws -> ComponentTensors
}

/// The tensors of one component, with lookups that check what the model expects.
public struct ComponentTensors: Sendable {
    /// The component.
    public let component: ModelComponent
    /// The tensors by name relative to the component.
    public let tensors: [String: Tensor]
    /// Where they came from, for errors: a file or a URL.
    public let source: String

    public init(component: ModelComponent, tensors: [String: Tensor], source: String) {
        self.component = component
        self.tensors = tensors
        self.source = source
    }

    /// The values of tensor `name` widened to float32, after checking its shape.
    ///
    /// - Throws: ``ModelError`` when the tensor is missing, has another shape, or is not floating point.
    public func floats(_ name: String, shape: Shape) throws -> [Float] {
        try tensor(name, shape: shape).floatValues()
    }

    /// Tensor `name` as stored, after checking that it has `shape` and a floating-point dtype.
    ///
    /// - Throws: ``ModelError`` when the tensor is missing, has another shape, or is not floating point.
    public func tensor(_ name: String, shape: Shape) throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw ModelError.missingTensor(component: component.name, name: name, source: source)
        }
        guard tensor.shape == shape else {
            throw ModelError.shapeMismatch(component: component.name, name: name, expected: shape, actual: tensor.shape)
        }
        guard tensor.dtype.isFloatingPoint else {
            throw ModelError.unsupportedDType(component: component.name, name: name, dtype: tensor.dtype)
        }
        return tensor
    }
}
