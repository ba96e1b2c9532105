/// One part of a BERT model, loaded (and, when streamed, fetched) as a unit.
public enum ModelComponent: Hashable, Sendable, CustomStringConvertible {
    case embeddings
    /// Encoder layer i, from 0.
    case layer(Int)
    case pooler
    /// Parameters every layer uses (MPNet's relative position bias).
    case shared
    /// A sequence-classification head (`classifier.*` in a checkpoint).
    case head

    /// The chunk name: `embeddings`, `layer_3`, `pooler`, `shared`.
    public var name: String {
        switch self {
        case .embeddings: "embeddings"
        case .layer(let index): "layer_\(index)"
        case .pooler: "pooler"
        case .shared: "shared"
        case .head: "head"
        }
    }

    /// The prefix of this component's tensors in a Hugging Face `BertModel` checkpoint.
    public var checkpointPrefix: String {
        switch self {
        case .embeddings: "embeddings."
        case .layer(let index): "encoder.layer.\(index)."
        case .pooler: "pooler."
        case .shared: "shared."
        case .head: "head."
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
///
/// A module loads its parameters from a scoped view, as candle's `VarBuilder.pp` does: the
/// layer hands its attention module `tensors.scoped("attention")`, whose `tensor("self.query.weight")`
/// is the component's `attention.self.query.weight`, and errors name the whole path.
public struct ComponentTensors: Sendable {
    /// The component.
    public let component: ModelComponent
    /// The tensors by name relative to the component.
    public let tensors: [String: Tensor]
    /// Where they came from, for errors: a file or a URL.
    public let source: String
    /// The prefix of this view (`attention.self.`), empty for the whole component.
    public let scope: String

    public init(component: ModelComponent, tensors: [String: Tensor], source: String) {
        self.init(component: component, tensors: tensors, source: source, scope: "")
    }

    private init(component: ModelComponent, tensors: [String: Tensor], source: String, scope: String) {
        self.component = component
        self.tensors = tensors
        self.source = source
        self.scope = scope
    }

    /// The view of the tensors under `name.` within this one.
    public func scoped(_ name: String) -> ComponentTensors {
        ComponentTensors(component: component, tensors: tensors, source: source, scope: scope + name + ".")
    }

    /// The values of tensor `name` (in this view) widened to float32, after checking its shape.
    ///
    /// - Throws: ``ModelError`` when the tensor is missing, has another shape, or is not floating point.
    public func floats(_ name: String, shape: Shape) throws -> [Float] {
        try tensor(name, shape: shape).floatValues()
    }

    /// Tensor `name` (in this view) as stored, after checking that it has `shape` and a
    /// floating-point dtype.
    ///
    /// - Throws: ``ModelError`` when the tensor is missing, has another shape, or is not floating point.
    public func tensor(_ name: String, shape: Shape) throws -> Tensor {
        let fullName = scope + name
        guard let tensor = tensors[fullName] else {
            throw ModelError.missingTensor(component: component.name, name: fullName, source: source)
        }
        guard tensor.shape == shape else {
            throw ModelError.shapeMismatch(
                component: component.name, name: fullName, expected: shape, actual: tensor.shape)
        }
        guard tensor.dtype.isFloatingPoint else {
            throw ModelError.unsupportedDType(component: component.name, name: fullName, dtype: tensor.dtype)
        }
        return tensor
    }
}
