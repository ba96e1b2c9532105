import Foundation

/// The weights of a chunk directory (docs/FORMAT.md): `config.json` and one safetensors file per
/// component, `NAME.safetensors` or gzip-compressed `NAME.safetensors.gz`.
public struct ChunkDirectoryTensorSource: TensorSource {
    /// The chunk directory.
    public let directory: String
    private let config: BertConfiguration

    /// Opens the chunk set in `directory`.
    ///
    /// - Throws: ``ModelError`` when config.json is missing or invalid.
    public init(directory: String) throws {
        self.directory = directory
        config = try BertConfiguration(contentsOfFile: (directory as NSString).appendingPathComponent("config.json"))
    }

    public func configuration() async throws -> BertConfiguration { config }

    private func path(of component: ModelComponent) -> (path: String, compressed: Bool)? {
        let base = (directory as NSString).appendingPathComponent(component.name + ".safetensors")
        if FileManager.default.fileExists(atPath: base) { return (base, false) }
        if FileManager.default.fileExists(atPath: base + ".gz") { return (base + ".gz", true) }
        return nil
    }

    public func contains(_ component: ModelComponent) async throws -> Bool {
        path(of: component) != nil
    }

    public func tensors(of component: ModelComponent) async throws -> ComponentTensors {
        guard let (path, compressed) = path(of: component) else {
            throw ModelError.noWeights(
                directory: directory, tried: [component.name + ".safetensors", component.name + ".safetensors.gz"])
        }
        let file: SafetensorsFile
        if compressed {
            let decompressor = try GzipDecompressor()
            var bytes: [UInt8] = []
            try FileReader.forEachBlock(ofFileAtPath: path) { block in
                try decompressor.decompress(block) { bytes.append(contentsOf: $0) }
            }
            try decompressor.finish()
            file = try SafetensorsFile(storage: ByteStorage(keeping: bytes[...]), source: path)
        } else {
            file = try SafetensorsFile(contentsOfFile: path)
        }
        var tensors: [String: Tensor] = [:]
        for name in file.tensorNames {
            tensors[name] = file[name]
        }
        return ComponentTensors(component: component, tensors: tensors, source: path)
    }
}
