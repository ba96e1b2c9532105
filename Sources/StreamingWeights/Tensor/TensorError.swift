/// A tensor that cannot be built or converted as asked.
public enum TensorError: Error, Hashable, CustomStringConvertible {
    /// A shape has a negative dimension.
    case negativeDimension([Int])
    /// A shape's element count does not fit in `Int`.
    case elementCountOverflow([Int])
    /// The bytes given do not match what the dtype and shape take.
    case byteCountMismatch(dtype: DType, shape: Shape, expected: Int, actual: Int)
    /// A conversion between these two dtypes is not supported.
    case unsupportedConversion(from: DType, to: DType)

    public var description: String {
        switch self {
        case .negativeDimension(let dimensions):
            "shape \(dimensions) has a negative dimension"
        case .elementCountOverflow(let dimensions):
            "shape \(dimensions) has more elements than this machine can address"
        case .byteCountMismatch(let dtype, let shape, let expected, let actual):
            "a \(dtype) tensor of shape \(shape) takes \(expected) bytes, but \(actual) were given"
        case .unsupportedConversion(let from, let to):
            "cannot convert a \(from) tensor to \(to): only floating-point types convert to each other"
        }
    }
}
