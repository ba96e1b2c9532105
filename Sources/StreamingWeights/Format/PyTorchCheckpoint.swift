/// A `pytorch_model.bin` in PyTorch's ZIP format, read without executing anything.
///
/// The archive's `data.pkl` is interpreted by ``RestrictedUnpickler``, which accepts only what a
/// state dict needs; tensors are views of the storages (`data/<key>` entries) in the memory-mapped
/// archive, copied only when a tensor is not contiguous.
public struct PyTorchCheckpoint: Sendable {
    /// The archive's bytes.
    let storage: ByteStorage
    private let storages: [String: Range<Int>]
    private let tensors: [String: (key: String, dtype: DType, offset: Int, shape: [Int], strides: [Int])]
    /// The tensor names, sorted.
    public let tensorNames: [String]
    /// The file, for errors.
    public let source: String

    /// Opens and interprets the checkpoint at `path`.
    ///
    /// - Throws: ``PyTorchCheckpointError`` for anything a state dict does not contain, naming it.
    public init(contentsOfFile path: String) throws {
        try self.init(storage: ByteStorage.contentsOfFile(atPath: path), source: path)
    }

    public init(storage: ByteStorage, source: String) throws {
        self.storage = storage
        self.source = source
        if storage.count >= 2, storage.withUnsafeBytes({ $0[0] == 0x80 }) {
            // A bare pickle: the pre-1.6 format, or not a checkpoint at all. Read it with the
            // same restrictions first, so a hostile one is reported for what it references.
            _ = try storage.withUnsafeBytes { try RestrictedUnpickler(source: source).load($0) }
            throw PyTorchCheckpointError.legacyFormat(file: source)
        }
        let archive = try ZipArchive(storage: storage, source: source)
        guard let pickle = archive.entry(endingWith: "data.pkl") else {
            throw PyTorchCheckpointError.malformedZip(file: source, problem: "it has no data.pkl")
        }
        if let order = archive.entry(endingWith: "byteorder") {
            let text = storage.withUnsafeBytes(in: order.dataRange) { String(decoding: $0, as: UTF8.self) }
            guard text == "little" else { throw PyTorchCheckpointError.bigEndian(file: source) }
        }
        let root = try storage.withUnsafeBytes(in: pickle.dataRange) {
            try RestrictedUnpickler(source: source).load($0)
        }
        guard case .dictionary(let pairs) = root else {
            throw PyTorchCheckpointError.malformedPickle(
                file: source, problem: "it is not a state dict (a dict of tensors)")
        }
        var tensors: [String: (key: String, dtype: DType, offset: Int, shape: [Int], strides: [Int])] = [:]
        var storages: [String: Range<Int>] = [:]
        for (key, value) in pairs {
            guard case .string(let name) = key,
                case .tensor(let storageKey, let dtype, let offset, let shape, let strides) = value
            else { continue }
            guard let entry = archive.entry(endingWith: "data/" + storageKey) else {
                throw PyTorchCheckpointError.malformedZip(
                    file: source, problem: "tensor '\(name)' refers to missing storage '\(storageKey)'")
            }
            // The furthest element the tensor reaches must lie inside its storage.
            let last = zip(shape, strides).reduce(offset) { $0 + ($1.0 > 0 ? ($1.0 - 1) * $1.1 : 0) }
            let elementCount = shape.reduce(1, *)
            guard elementCount == 0 || (last + 1) * dtype.byteCount <= entry.dataRange.count else {
                throw PyTorchCheckpointError.malformedPickle(
                    file: source, problem: "tensor '\(name)' reaches past its storage")
            }
            storages[storageKey] = entry.dataRange
            tensors[name] = (storageKey, dtype, offset, shape, strides)
        }
        self.tensors = tensors
        self.storages = storages
        tensorNames = tensors.keys.sorted()
    }

    /// The tensor called `name`, as a view of the archive when it is contiguous.
    ///
    /// - Throws: ``CheckpointError/missingTensor(_:file:)``.
    public func tensor(named name: String) throws -> Tensor {
        guard let entry = tensors[name], let range = storages[entry.key] else {
            throw CheckpointError.missingTensor(name, file: source)
        }
        let shape = try Shape(validating: entry.shape)
        let size = entry.dtype.byteCount
        var contiguous = true
        var expected = 1
        for (dimension, stride) in zip(entry.shape, entry.strides).reversed() where dimension > 1 {
            if stride != expected { contiguous = false }
            expected *= dimension
        }
        let start = range.lowerBound + entry.offset * size
        if contiguous {
            return try Tensor(
                dtype: entry.dtype, shape: shape, storage: storage,
                byteRange: start..<(start + shape.elementCount * size))
        }
        let copy = ByteStorage(count: shape.elementCount * size) { destination in
            storage.withUnsafeBytes { source in
                var index = [Int](repeating: 0, count: entry.shape.count)
                for element in 0..<shape.elementCount {
                    let offset = zip(index, entry.strides).reduce(0) { $0 + $1.0 * $1.1 }
                    for byte in 0..<size { destination[element * size + byte] = source[start + offset * size + byte] }
                    var axis = entry.shape.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < entry.shape[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return try Tensor(dtype: entry.dtype, shape: shape, storage: copy, byteRange: 0..<copy.count)
    }
}

/// A PyTorch checkpoint that is refused, with the file and the reason.
public enum PyTorchCheckpointError: Error, Hashable, CustomStringConvertible {
    /// The pickle references a global a state dict never needs: loading it with `torch.load`
    /// could run code.
    case forbiddenGlobal(String, file: String)
    /// An opcode outside what a state dict uses.
    case unsupportedOpcode(UInt8, file: String, offset: Int)
    case malformedPickle(file: String, problem: String)
    case malformedZip(file: String, problem: String)
    /// The pre-1.6 format (a bare pickle stream) is not read.
    case legacyFormat(file: String)
    case bigEndian(file: String)

    public var description: String {
        switch self {
        case .forbiddenGlobal(let name, let file):
            "'\(file)' refers to '\(name)', which a state dict never needs; refusing to load it (it could run code)"
        case .unsupportedOpcode(let opcode, let file, let offset):
            "'\(file)' uses pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset), which a state dict never needs"
        case .malformedPickle(let file, let problem):
            "'\(file)' is not a readable state dict: \(problem)"
        case .malformedZip(let file, let problem):
            "'\(file)' is not a readable PyTorch checkpoint: \(problem)"
        case .legacyFormat(let file):
            "'\(file)' is in PyTorch's legacy (pre-1.6) format; resave it with torch.save or convert it to safetensors"
        case .bigEndian(let file):
            "'\(file)' was saved on a big-endian machine, which is not supported"
        }
    }
}
