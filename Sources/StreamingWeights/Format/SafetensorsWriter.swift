/// Builds a safetensors file that Python's `safetensors` opens, streaming the tensor data so that
/// no second copy of it is made.
///
/// Tensors are laid out as Python's writer lays them out — by dtype in the reverse of the order
/// ``DType`` declares them (so 8-byte types come first), then by name — so every tensor starts
/// aligned to its element size, and the same tensors give the same bytes as Python's
/// `safetensors` writes, whatever order they were added in. The header is padded with spaces to
/// a multiple of 8 bytes.
public struct SafetensorsWriter {
    /// The `__metadata__` strings written into the header.
    public var metadata: [String: String]
    private var tensors: [String: Tensor] = [:]

    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds a tensor.
    ///
    /// - Throws: ``SafetensorsError`` with ``SafetensorsError/Reason/duplicateTensorName(_:)``
    ///   when `name` was added before, or an invalid entry for the reserved name `__metadata__`.
    public mutating func add(_ tensor: Tensor, named name: String) throws {
        guard name != "__metadata__" else {
            throw SafetensorsError(
                source: "<writer>", reason: .invalidEntry(key: name, problem: "is reserved for metadata"))
        }
        guard tensors[name] == nil else {
            throw SafetensorsError(source: "<writer>", reason: .duplicateTensorName(name))
        }
        tensors[name] = tensor
    }

    /// The tensors in the order their data is written.
    private var layout: [(name: String, tensor: Tensor)] {
        tensors.map { ($0.key, $0.value) }.sorted { left, right in
            if left.tensor.dtype != right.tensor.dtype {
                return left.tensor.dtype.layoutRank > right.tensor.dtype.layoutRank
            }
            return left.name < right.name
        }
    }

    /// The length prefix and the JSON header, padded.
    public func headerBytes() -> [UInt8] {
        var header = JSONObject()
        if !metadata.isEmpty {
            let sorted = metadata.sorted { $0.key < $1.key }
            header["__metadata__"] = .object(JSONObject(sorted.map { ($0.key, JSONValue.string($0.value)) }))
        }
        var offset = 0
        for (name, tensor) in layout {
            header[name] = .object(
                JSONObject([
                    ("dtype", .string(tensor.dtype.rawValue)),
                    ("shape", .array(tensor.shape.dimensions.map { .integer(Int64($0)) })),
                    ("data_offsets", .array([.integer(Int64(offset)), .integer(Int64(offset + tensor.byteCount))])),
                ])
            )
            offset += tensor.byteCount
        }
        var json = Array(JSONValue.object(header).serialized.utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        return withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
    }

    /// The size of the whole file.
    public var byteCount: Int {
        headerBytes().count + tensors.values.reduce(0) { $0 + $1.byteCount }
    }

    /// The most bytes handed to a sink at once: small enough that a sink which both hashes and
    /// writes a piece finds it still in cache the second time.
    public static let pieceSize = 1 << 20

    /// Hands the file's bytes to `sink` in order — the header, then each tensor's data, uncopied —
    /// in pieces of at most ``pieceSize`` bytes.
    public func write(to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try headerBytes().withUnsafeBytes { try sink($0) }
        for (_, tensor) in layout {
            try tensor.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + Self.pieceSize, bytes.count)
                    try sink(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                    offset = end
                }
            }
        }
    }

    /// The file's bytes as pieces where they lie.
    ///
    /// `header` (this writer's ``headerBytes()``, held by the caller at a fixed address), then
    /// each tensor's data. Valid while the tensors live; `nil` when one has no fixed address (a
    /// Swift array's), for ``write(to:)`` instead.
    public func pieces(header: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer]? {
        var pieces = [header]
        for (_, tensor) in layout {
            guard let base = tensor.storageAddress else {
                guard tensor.byteCount == 0 else { return nil }
                continue
            }
            pieces.append(UnsafeRawBufferPointer(start: base, count: tensor.byteCount))
        }
        return pieces
    }

    /// The whole file in memory.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        write { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Writes the file to `path`, which appears only once it is complete (see ``FileWriter``).
    ///
    /// - Throws: ``FileError`` naming the path.
    public func write(toFile path: String) throws {
        let writer = try FileWriter(path: path)
        try write { try writer.write($0) }
        try writer.commit()
    }
}

extension DType {
    /// The position of this dtype in the declaration order of the Rust `safetensors` crate, which
    /// ``DType`` follows; its writer sorts by it.
    fileprivate var layoutRank: Int { DType.allCases.firstIndex(of: self) ?? 0 }
}
