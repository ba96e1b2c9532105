/// The element type of a tensor, named as the safetensors format names it.
///
/// Every multi-byte type is stored little-endian.
public enum DType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case float64 = "F64"
    case int64 = "I64"
    case uint64 = "U64"

    /// The number of bytes one element takes.
    public var byteCount: Int {
        switch self {
        case .bool, .uint8, .int8: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .int32, .uint32, .float32: 4
        case .float64, .int64, .uint64: 8
        }
    }

    /// Whether the type holds floating-point numbers.
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }

    /// The name the safetensors header uses, such as `F32`.
    public var description: String { rawValue }

    /// The name Python's libraries use (`float32`, `bfloat16`, ...), as written in `chunk_info.json`.
    public var pythonName: String {
        switch self {
        case .bool: "bool"
        case .uint8: "uint8"
        case .int8: "int8"
        case .int16: "int16"
        case .uint16: "uint16"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .int32: "int32"
        case .uint32: "uint32"
        case .float32: "float32"
        case .float64: "float64"
        case .int64: "int64"
        case .uint64: "uint64"
        }
    }

    /// The type whose ``pythonName`` is `name`, or `nil`.
    public init?(pythonName name: String) {
        guard let match = DType.allCases.first(where: { $0.pythonName == name }) else { return nil }
        self = match
    }
}
