/// A safetensors file that cannot be trusted, with the file and the exact reason.
public struct SafetensorsError: Error, Hashable, CustomStringConvertible {
    /// The file (or `<memory>`) the bytes came from.
    public let source: String
    /// What is wrong with it.
    public let reason: Reason

    /// One case per way a safetensors file can be malformed.
    public enum Reason: Hashable, Sendable {
        /// Fewer than the 8 bytes of the header length.
        case tooSmall(byteCount: Int)
        /// The header length points past the end of the file.
        case headerLengthExceedsFile(declared: UInt64, available: Int)
        /// The header length is over the limit this reader accepts.
        case headerTooLarge(declared: UInt64, limit: Int)
        /// The header is not JSON, or not a JSON object.
        case invalidHeaderJSON(String)
        /// An entry of the header has the wrong shape (`key` names it).
        case invalidEntry(key: String, problem: String)
        /// A dtype this reader does not know.
        case unknownDType(tensor: String, dtype: String)
        /// Offsets whose span differs from what the dtype and shape take.
        case byteCountMismatch(tensor: String, dtype: DType, shape: Shape, expected: Int, actual: Int)
        /// Offsets beyond the data section.
        case offsetsOutOfBounds(tensor: String, begin: Int, end: Int, dataSize: Int)
        /// Two tensors whose bytes overlap.
        case overlappingTensors(first: String, second: String)
        /// Unclaimed bytes between two tensors (or before the first).
        case gapBetweenTensors(before: String?, after: String, gap: Int)
        /// Bytes after the last tensor.
        case trailingBytes(count: Int)
        /// The same tensor name twice.
        case duplicateTensorName(String)
        /// A tensor asked for by name that the file does not hold.
        case tensorNotFound(String)
    }

    public init(source: String, reason: Reason) {
        self.source = source
        self.reason = reason
    }

    public var description: String {
        let detail: String
        switch reason {
        case .tooSmall(let count):
            detail = "the file is \(count) bytes, too small for the 8-byte header length"
        case .headerLengthExceedsFile(let declared, let available):
            detail = "the header length says \(declared) bytes but only \(available) follow it"
        case .headerTooLarge(let declared, let limit):
            detail = "the header length \(declared) is over the \(limit)-byte limit"
        case .invalidHeaderJSON(let problem):
            detail = "the header is not valid: \(problem)"
        case .invalidEntry(let key, let problem):
            detail = "header entry '\(key)' \(problem)"
        case .unknownDType(let tensor, let dtype):
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            detail = "tensor '\(tensor)' has unknown dtype '\(dtype)' (known: \(known))"
        case .byteCountMismatch(let tensor, let dtype, let shape, let expected, let actual):
            detail =
                "tensor '\(tensor)' is \(dtype) \(shape), which takes \(expected) bytes, but its offsets span \(actual)"
        case .offsetsOutOfBounds(let tensor, let begin, let end, let dataSize):
            detail = "tensor '\(tensor)' has offsets [\(begin), \(end)) outside the \(dataSize)-byte data section"
        case .overlappingTensors(let first, let second):
            detail = "tensors '\(first)' and '\(second)' overlap"
        case .gapBetweenTensors(let before, let after, let gap):
            let place = before.map { "between '\($0)' and '\(after)'" } ?? "before '\(after)'"
            detail = "\(gap) unclaimed bytes \(place)"
        case .trailingBytes(let count):
            detail = "\(count) bytes follow the last tensor"
        case .duplicateTensorName(let name):
            detail = "tensor '\(name)' appears twice"
        case .tensorNotFound(let name):
            detail = "there is no tensor '\(name)'"
        }
        return "\(source): \(detail)"
    }
}
