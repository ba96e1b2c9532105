import Foundation

/// A chunk directory made by the Python tool: `embeddings.pt`, `layer_0.pt` ..., `pooler.pt`
/// (PyTorch zip files), `config.json`, and a `chunk_info.json` without sizes or hashes.
///
/// A weight server serving one answers the Python client's `GET layer 0` with the file's bytes,
/// hex-encoded in JSON, as the Python server did, and serves the same set to our clients under
/// a version 1 manifest it builds at start: each file read once, hashed, and its tensors listed
/// (through the restricted unpickler, which never runs code). So a team can switch servers
/// first and clients later.
public enum LegacyChunkSet {
    /// The version 1 manifest of the Python tool's chunk set whose `chunk_info.json` is `json`,
    /// or `nil` when `json` is not the Python tool's manifest (it has a `format_version`, or its
    /// chunks are not `.pt` files).
    ///
    /// Tokenizer files beside the chunks (`vocab.txt`, `tokenizer.json` ...; the Python tool
    /// wrote none) are listed too, so that our clients find them.
    ///
    /// - Throws: ``ChunkingError/invalidManifest(source:problem:)`` for a Python manifest that
    ///   names a file that is missing or not a PyTorch checkpoint.
    public static func manifest(legacyJSON json: [UInt8], storage: any ChunkObjectReader) async throws -> ChunkManifest?
    {
        let source = ChunkManifest.fileName
        guard let root = try? json.withUnsafeBytes({ try JSONParser.parse($0) }).objectValue,
            root["format_version"] == nil, let chunkObjects = root["chunks"]?.objectValue,
            !chunkObjects.keys.isEmpty
        else { return nil }
        var files: [String: String] = [:]
        for name in chunkObjects.keys {
            guard let file = chunkObjects[name]?.objectValue?["file"]?.stringValue, file.hasSuffix(".pt") else {
                return nil
            }
            files[name] = file
        }
        var chunks: [String: ChunkManifest.Chunk] = [:]
        var storedDType: DType?
        for (name, file) in files.sorted(by: { $0.key < $1.key }) {
            let bytes: ByteStorage
            do {
                bytes = try await storage.read(file, size: nil)
            } catch {
                throw ChunkingError.invalidManifest(source: source, problem: "chunk '\(name)': \(error)")
            }
            let checkpoint: PyTorchCheckpoint
            do {
                checkpoint = try PyTorchCheckpoint(storage: bytes, source: file)
            } catch {
                throw ChunkingError.invalidManifest(source: source, problem: "chunk '\(name)': \(error)")
            }
            var tensors: [String: ChunkManifest.TensorEntry] = [:]
            for tensorName in checkpoint.tensorNames {
                let tensor = try checkpoint.tensor(named: tensorName)
                if tensor.dtype.isFloatingPoint { storedDType = storedDType ?? tensor.dtype }
                tensors[tensorName] = ChunkManifest.TensorEntry(
                    dtype: tensor.dtype.rawValue, shape: tensor.shape.dimensions)
            }
            let entry = bytes.withUnsafeBytes { ChunkManifest.FileEntry(describing: $0) }
            chunks[name] = ChunkManifest.Chunk(
                file: file, size: bytes.count, sha256: entry.sha256, blake3: entry.blake3,
                sizeMB: Double(bytes.count) / 1_048_576, tensors: tensors)
        }
        var extra: [String: ChunkManifest.FileEntry] = [:]
        for name in ["config.json"] + HubDownloader.tokenizerFiles {
            guard let bytes = try? await storage.read(name, size: nil) else { continue }
            extra[name] = bytes.withUnsafeBytes { ChunkManifest.FileEntry(describing: $0) }
        }
        let layerCount =
            root["num_layers"]?.integerValue.map(Int.init) ?? chunks.keys.filter { $0.hasPrefix("layer_") }.count
        return ChunkManifest(
            modelName: root["model_name"]?.stringValue ?? "", modelType: root["model_type"]?.stringValue ?? "bert",
            numLayers: layerCount, dtype: (storedDType ?? .float32).pythonName, compression: "none", chunks: chunks,
            files: extra)
    }

    /// What a legacy request asks for.
    public enum Request: Equatable, Sendable {
        /// The chunk `name` (`layer_0`, `embeddings`, `pooler`), answered as `component`
        /// (the Python server's `{type}_{id}`: `layer_0`, `embeddings_0`).
        case chunk(name: String, component: String)
        /// Not a request the Python server understood; the message to answer with.
        case invalid(String)
    }

    /// Parses the Python client's text request (`GET LAYER 0`, `GET embeddings 0`), or `nil`
    /// when `text` does not start with `GET ` (then it is not a legacy request at all).
    public static func request(_ text: String) -> Request? {
        guard text.hasPrefix("GET ") else { return nil }
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 3 else { return .invalid("Invalid request format") }
        let kind = parts[1].lowercased()
        let id = String(parts[2])
        switch kind {
        case "layer":
            guard let index = Int(id), index >= 0, String(index) == id else {
                return .invalid("Invalid layer number: \(id)")
            }
            return .chunk(name: "layer_\(index)", component: "layer_\(id)")
        case "embeddings", "pooler":
            return .chunk(name: kind, component: "\(kind)_\(id)")
        default:
            return .invalid("Unknown component: \(kind)")
        }
    }

    /// The Python server's answer carrying `bytes`:
    /// `{"success": true, "component": ..., "weights": "<hex>"}`.
    public static func answer(component: String, bytes: UnsafeRawBufferPointer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        let prefix = #"{"success": true, "component": "# + quoted(component) + #", "weights": ""#
        var output = [UInt8]()
        output.reserveCapacity(prefix.utf8.count + bytes.count * 2 + 2)
        output += prefix.utf8
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0f)])
        }
        output += #""}"#.utf8
        return String(decoding: output, as: UTF8.self)
    }

    /// The Python server's error answer: `{"success": false, "error": ...}`.
    public static func failure(_ message: String) -> String {
        #"{"success": false, "error": "# + quoted(message) + "}"
    }

    private static func quoted(_ text: String) -> String {
        var output = ""
        JSONValue.string(text).serialize(into: &output)
        return output
    }
}
