/// An immutable n-dimensional array of one dtype, stored row-major and little-endian.
///
/// A tensor is a view into a ``ByteStorage``: tensors read from one safetensors file share that
/// file's bytes (often memory-mapped) rather than copying them.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The element type.
    public let dtype: DType
    /// The dimensions.
    public let shape: Shape
    /// The bytes this tensor views.
    public let storage: ByteStorage
    /// Where this tensor's bytes lie within ``storage``.
    public let byteRange: Range<Int>

    /// Creates a tensor over `byteRange` of `storage`, checking that the range holds exactly
    /// `shape.elementCount` elements of `dtype`.
    public init(dtype: DType, shape: Shape, storage: ByteStorage, byteRange: Range<Int>) throws {
        let (expected, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, expected == byteRange.count else {
            throw TensorError.byteCountMismatch(
                dtype: dtype,
                shape: shape,
                expected: overflow ? Int.max : expected,
                actual: byteRange.count
            )
        }
        precondition(byteRange.lowerBound >= 0 && byteRange.upperBound <= storage.count, "range outside storage")
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.byteRange = byteRange
    }

    /// Creates a tensor that owns a copy of `bytes`.
    public init(dtype: DType, shape: Shape, bytes: some Collection<UInt8>) throws {
        let storage = ByteStorage(bytes)
        try self.init(dtype: dtype, shape: shape, storage: storage, byteRange: 0..<storage.count)
    }

    /// Creates a float32 tensor holding `values`.
    ///
    /// - Precondition: `values.count == shape.elementCount`.
    public init(float32 values: [Float], shape: Shape) {
        precondition(values.count == shape.elementCount, "\(values.count) values for shape \(shape)")
        let storage = values.withUnsafeBytes { ByteStorage($0) }
        self.dtype = .float32
        self.shape = shape
        self.storage = storage
        self.byteRange = 0..<storage.count
    }

    /// The address of the tensor's first byte, for a tensor whose storage holds its memory at a
    /// fixed address for its lifetime (allocated, mapped or pooled; not a Swift array's).
    public var storageAddress: UnsafeRawPointer? {
        storage.baseAddress.map { $0 + byteRange.lowerBound }
    }

    /// The number of bytes the tensor's data takes.
    public var byteCount: Int { byteRange.count }

    /// The number of elements.
    public var elementCount: Int { shape.elementCount }

    /// Calls `body` with the tensor's raw little-endian bytes.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try storage.withUnsafeBytes(in: byteRange, body)
    }

    /// Lets the system drop the memory-mapped pages of this tensor that were read (they are read
    /// again from the file if touched); nothing for a tensor in ordinary memory.
    public func releasePages() { storage.releasePages(in: byteRange) }

    /// A copy of the tensor's raw bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The elements widened to `Float`.
    ///
    /// - Throws: ``TensorError/unsupportedConversion(from:to:)`` when the dtype is not floating point.
    public func floatValues() throws -> [Float] {
        guard dtype.isFloatingPoint else { throw TensorError.unsupportedConversion(from: dtype, to: .float32) }
        let count = elementCount
        return [Float](unsafeUninitializedCapacity: count) { destination, initialized in
            withUnsafeBytes { source in
                FloatConversion.convert(source, from: dtype, toFloat32: destination)
            }
            initialized = count
        }
    }

    /// The elements of an integer tensor widened to `Int64`.
    ///
    /// - Throws: ``TensorError/unsupportedConversion(from:to:)`` for a floating-point or bool tensor.
    public func integerValues() throws -> [Int64] {
        let count = elementCount
        return try withUnsafeBytes { bytes in
            switch dtype {
            case .uint8: return Self.load(bytes, count, as: UInt8.self)
            case .int8: return Self.load(bytes, count, as: Int8.self)
            case .int16: return Self.load(bytes, count, as: Int16.self)
            case .uint16: return Self.load(bytes, count, as: UInt16.self)
            case .int32: return Self.load(bytes, count, as: Int32.self)
            case .uint32: return Self.load(bytes, count, as: UInt32.self)
            case .int64: return Self.load(bytes, count, as: Int64.self)
            case .uint64, .bool, .float16, .bfloat16, .float32, .float64:
                throw TensorError.unsupportedConversion(from: dtype, to: .int64)
            }
        }
    }

    private static func load<Element: FixedWidthInteger>(
        _ bytes: UnsafeRawBufferPointer,
        _ count: Int,
        as type: Element.Type
    ) -> [Int64] {
        (0..<count).map { index in
            Int64(Element(littleEndian: bytes.loadUnaligned(fromByteOffset: index * Element.bitWidth / 8, as: type)))
        }
    }

    /// This tensor with its elements converted to another floating-point dtype.
    ///
    /// Narrowing rounds to nearest, ties to even, as PyTorch does; a tensor already of `target`
    /// is returned as it is.
    /// - Throws: ``TensorError/unsupportedConversion(from:to:)`` unless both dtypes are F32, F16 or BF16.
    public func converted(to target: DType) throws -> Tensor {
        guard target != dtype else { return self }
        let supported: Set<DType> = [.float32, .float16, .bfloat16]
        guard supported.contains(dtype), supported.contains(target) else {
            throw TensorError.unsupportedConversion(from: dtype, to: target)
        }
        let widened = try floatValues()
        let storage = ByteStorage(count: elementCount * target.byteCount) { destination in
            widened.withUnsafeBufferPointer { source in
                FloatConversion.convert(source, toFloat: target, into: destination)
            }
        }
        return try Tensor(dtype: target, shape: shape, storage: storage, byteRange: 0..<storage.count)
    }

    /// Equal when dtype, shape and bytes are equal (so two NaNs with the same bits are equal).
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.dtype == rhs.dtype, lhs.shape == rhs.shape else { return false }
        return lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in left.elementsEqual(right) } }
    }

    /// `F32 [2, 3]`.
    public var description: String { "\(dtype) \(shape)" }
}
