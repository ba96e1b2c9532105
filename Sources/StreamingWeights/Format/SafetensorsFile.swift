/// A safetensors file, validated in full before any tensor is handed out.
///
/// The format (https://github.com/huggingface/safetensors): an unsigned 64-bit little-endian
/// header length N, N bytes of JSON mapping each tensor name to its `dtype`, `shape` and
/// `data_offsets` (relative to the byte after the header), an optional `__metadata__` object of
/// strings, then the data. This reader accepts a file only when every tensor's offsets lie in
/// the data section, match its dtype and shape exactly, and the tensors tile the data section
/// with no gap, overlap or trailing byte — what Python's `safetensors` itself enforces.
///
/// Tensors view the file's bytes without copying; open a file memory-mapped and only the pages a
/// caller touches are read.
public struct SafetensorsFile: Sendable {
    /// The largest header accepted, as in Python's `safetensors`: a larger one is an attack or a mistake.
    public static let maximumHeaderLength = 100_000_000

    /// The `__metadata__` strings.
    public let metadata: [String: String]
    /// The tensor names in the order of their data.
    public let tensorNames: [String]
    private let tensors: [String: Tensor]
    /// The file's bytes, or `nil` for a file with no tensors.
    let storage: ByteStorage?

    /// Parses and validates safetensors bytes.
    ///
    /// - Parameter source: the name used in errors, usually the file path.
    /// - Throws: ``SafetensorsError``.
    public init(storage: ByteStorage, source: String = "<memory>") throws {
        func fail(_ reason: SafetensorsError.Reason) -> SafetensorsError {
            SafetensorsError(source: source, reason: reason)
        }
        guard storage.count >= 8 else { throw fail(.tooSmall(byteCount: storage.count)) }
        let declared = storage.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let available = storage.count - 8
        guard declared <= UInt64(available) else {
            throw fail(.headerLengthExceedsFile(declared: declared, available: available))
        }
        guard declared <= UInt64(Self.maximumHeaderLength) else {
            throw fail(.headerTooLarge(declared: declared, limit: Self.maximumHeaderLength))
        }
        let headerLength = Int(declared)
        let header: JSONValue
        do {
            header = try storage.withUnsafeBytes(in: 8..<(8 + headerLength)) { bytes throws(JSONParseError) in
                guard bytes.first == UInt8(ascii: "{") else {
                    throw JSONParseError(offset: 0, reason: "the header must start with '{'")
                }
                return try JSONParser.parse(bytes)
            }
        } catch let error as JSONParseError {
            if let name = error.duplicateKey, error.depth == 1 { throw fail(.duplicateTensorName(name)) }
            throw fail(.invalidHeaderJSON(error.description))
        }
        guard let entries = header.objectValue else { throw fail(.invalidHeaderJSON("not an object")) }

        let dataStart = 8 + headerLength
        let dataSize = storage.count - dataStart
        var metadata: [String: String] = [:]
        var spans: [(name: String, dtype: DType, shape: Shape, begin: Int, end: Int)] = []
        for (name, entry) in entries.members {
            if name == "__metadata__" {
                metadata = try Self.metadata(from: entry, fail: fail)
                continue
            }
            let span = try Self.span(of: name, entry: entry, dataSize: dataSize, fail: fail)
            spans.append((name, span.dtype, span.shape, span.begin, span.end))
        }

        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expectedBegin = 0
        var previous: String?
        for span in spans {
            if span.begin < expectedBegin, let previous {
                throw fail(.overlappingTensors(first: previous, second: span.name))
            }
            if span.begin > expectedBegin {
                throw fail(.gapBetweenTensors(before: previous, after: span.name, gap: span.begin - expectedBegin))
            }
            expectedBegin = span.end
            previous = span.name
        }
        guard expectedBegin == dataSize else { throw fail(.trailingBytes(count: dataSize - expectedBegin)) }

        var tensors: [String: Tensor] = [:]
        tensors.reserveCapacity(spans.count)
        for span in spans {
            tensors[span.name] = try Tensor(
                dtype: span.dtype,
                shape: span.shape,
                storage: storage,
                byteRange: (dataStart + span.begin)..<(dataStart + span.end)
            )
        }
        self.metadata = metadata
        self.tensorNames = spans.map(\.name)
        self.tensors = tensors
        self.storage = storage
    }

    /// Opens and validates the safetensors file at `path`.
    ///
    /// - Parameter memoryMapped: map the file rather than read it; its tensors then share the
    ///   page cache, and the file must not be modified while they are alive.
    /// - Throws: ``FileError`` or ``SafetensorsError``, each naming `path`.
    public init(contentsOfFile path: String, memoryMapped: Bool = true) throws {
        try self.init(storage: ByteStorage.contentsOfFile(atPath: path, memoryMapped: memoryMapped), source: path)
    }

    /// The tensor called `name`, or `nil`.
    public subscript(name: String) -> Tensor? { tensors[name] }

    /// The tensor called `name`.
    ///
    /// - Throws: ``SafetensorsError`` with ``SafetensorsError/Reason/tensorNotFound(_:)``.
    public func tensor(named name: String, source: String = "<safetensors>") throws -> Tensor {
        guard let tensor = tensors[name] else {
            throw SafetensorsError(source: source, reason: .tensorNotFound(name))
        }
        return tensor
    }

    private static func metadata(
        from entry: JSONValue,
        fail: (SafetensorsError.Reason) -> SafetensorsError
    ) throws -> [String: String] {
        guard let object = entry.objectValue else {
            throw fail(
                .invalidEntry(
                    key: "__metadata__", problem: "must be an object of strings, not \(entry.kindDescription)"))
        }
        var metadata: [String: String] = [:]
        for (key, value) in object.members {
            guard let string = value.stringValue else {
                throw fail(
                    .invalidEntry(
                        key: "__metadata__", problem: "has '\(key)' set to \(value.kindDescription), not a string"))
            }
            metadata[key] = string
        }
        return metadata
    }

    private static func span(
        of name: String,
        entry: JSONValue,
        dataSize: Int,
        fail: (SafetensorsError.Reason) -> SafetensorsError
    ) throws -> (dtype: DType, shape: Shape, begin: Int, end: Int) {
        func invalid(_ problem: String) -> SafetensorsError { fail(.invalidEntry(key: name, problem: problem)) }
        guard let fields = entry.objectValue else { throw invalid("must be an object, not \(entry.kindDescription)") }
        guard let dtypeName = fields["dtype"]?.stringValue else { throw invalid("needs a string 'dtype'") }
        guard let dtype = DType(rawValue: dtypeName) else { throw fail(.unknownDType(tensor: name, dtype: dtypeName)) }
        guard let dimensionValues = fields["shape"]?.arrayValue else { throw invalid("needs an array 'shape'") }
        var dimensions: [Int] = []
        for value in dimensionValues {
            guard let dimension = value.integerValue, dimension >= 0 else {
                throw invalid("has a shape entry that is not a non-negative integer")
            }
            dimensions.append(Int(dimension))
        }
        guard let shape = try? Shape(validating: dimensions) else {
            throw invalid("has shape \(dimensions), whose element count overflows")
        }
        guard let offsets = fields["data_offsets"]?.arrayValue, offsets.count == 2,
            let begin = offsets[0].integerValue, let end = offsets[1].integerValue
        else { throw invalid("needs 'data_offsets' as two integers") }
        guard begin >= 0, begin <= end, end <= Int64(dataSize) else {
            throw fail(.offsetsOutOfBounds(tensor: name, begin: Int(begin), end: Int(end), dataSize: dataSize))
        }
        let (expected, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, expected == Int(end - begin) else {
            throw fail(
                .byteCountMismatch(
                    tensor: name,
                    dtype: dtype,
                    shape: shape,
                    expected: overflow ? Int.max : expected,
                    actual: Int(end - begin)
                )
            )
        }
        return (dtype, shape, Int(begin), Int(end))
    }
}
