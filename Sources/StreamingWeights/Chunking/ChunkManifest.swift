import Foundation

/// `chunk_info.json`: what a chunk set holds, with the size, SHA-256 and BLAKE3 of every file.
///
/// Keeps the keys the Python tool wrote (`model_name`, `num_layers`, `chunks`, `size_mb`,
/// `total_size_mb`) and adds what a verifier needs; docs/FORMAT.md describes each key.
public struct ChunkManifest: Codable, Sendable, Equatable {
    /// The newest format this code reads and writes.
    ///
    /// Version 2 adds the `shared` and `head` chunks and model types beyond BERT; version 3, the
    /// `weight_layout` key (docs/FORMAT.md). A chunk set is written as the oldest version that
    /// holds it: one that needs none of them is version 1, which every reader reads; newer
    /// ones are refused by older readers rather than half-read.
    public static let currentFormatVersion = 3
    /// The versions this code reads.
    public static let readableFormatVersions = 1...3
    /// The object name of the manifest in a chunk set.
    public static let fileName = "chunk_info.json"

    public var formatVersion: Int
    public var modelName: String
    public var modelType: String
    public var numLayers: Int
    /// The stored floating dtype, as Python names it: `float32`, `float16`, `bfloat16`.
    public var dtype: String
    /// `none` or `gzip`.
    public var compression: String
    /// How the layers' `Linear` weights are stored: absent for PyTorch's `[out, in]`,
    /// `panels32` for ``ChunkWeightLayout/panels32``.
    public var weightLayoutName: String?
    /// By chunk name: `embeddings`, `layer_0` ..., `pooler`.
    public var chunks: [String: Chunk]
    /// config.json and the tokenizer files, by file name.
    public var files: [String: FileEntry]
    public var totalSizeMB: Double

    /// One chunk file.
    public struct Chunk: Codable, Sendable, Equatable {
        /// The file name within the chunk set.
        public var file: String
        /// Bytes as stored.
        public var size: Int
        /// Lower-case hex SHA-256 of the bytes as stored.
        public var sha256: String
        /// Lower-case hex BLAKE3 of the bytes as stored; absent from manifests written before
        /// it was added.
        public var blake3: String?
        public var sizeMB: Double
        public var tensors: [String: TensorEntry]

        enum CodingKeys: String, CodingKey {
            case file, size, sha256, blake3, tensors
            case sizeMB = "size_mb"
        }

        /// The digest a reader checks (``ContentDigest/preferred(sha256:blake3:)``).
        public var digest: ContentDigest { .preferred(sha256: sha256, blake3: blake3) }
    }

    /// A tensor's dtype (safetensors name) and shape.
    public struct TensorEntry: Codable, Sendable, Equatable {
        public var dtype: String
        public var shape: [Int]
    }

    /// A non-chunk file.
    public struct FileEntry: Codable, Sendable, Equatable {
        public var size: Int
        public var sha256: String
        /// Absent from manifests written before BLAKE3 was added.
        public var blake3: String?

        public init(size: Int, sha256: String, blake3: String? = nil) {
            self.size = size
            self.sha256 = sha256
            self.blake3 = blake3
        }

        /// `bytes`' size and digests (read once, where they lie).
        public init(describing bytes: UnsafeRawBufferPointer) {
            let digests = Digest.hashes(of: bytes, with: [.sha256, .blake3])
            self.init(size: bytes.count, sha256: digests[0].hexString, blake3: digests[1].hexString)
        }

        /// The digest a reader checks (``ContentDigest/preferred(sha256:blake3:)``).
        public var digest: ContentDigest { .preferred(sha256: sha256, blake3: blake3) }
    }

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version"
        case modelName = "model_name"
        case modelType = "model_type"
        case numLayers = "num_layers"
        case dtype, compression, chunks, files
        case totalSizeMB = "total_size_mb"
        case weightLayoutName = "weight_layout"
    }

    /// How the layers' `Linear` weights are stored (a decoded manifest names a known layout).
    public var weightLayout: ChunkWeightLayout {
        weightLayoutName.flatMap(ChunkWeightLayout.init(rawValue:)) ?? .pytorch
    }

    /// The chunk names in order: embeddings, shared parameters, the layers, the pooler, the head.
    public var orderedChunkNames: [String] {
        (["embeddings", "shared"] + (0..<numLayers).map { "layer_\($0)" } + ["pooler", "head"]).filter {
            chunks[$0] != nil
        }
    }

    /// Decodes a manifest (through the strict ``JSONValueDecoder``: a key written twice is an
    /// error, not the second value), rejecting a format version this code does not know.
    ///
    /// - Throws: ``ChunkingError/invalidManifest(source:problem:)`` naming the problem.
    public init(json bytes: [UInt8], source: String) throws {
        do {
            self = try JSONValueDecoder.decode(ChunkManifest.self, from: bytes)
        } catch let error as DecodingError {
            throw ChunkingError.invalidManifest(source: source, problem: Self.describe(error))
        } catch {
            throw ChunkingError.invalidManifest(source: source, problem: "\(error)")
        }
        guard Self.readableFormatVersions.contains(formatVersion) else {
            throw ChunkingError.invalidManifest(
                source: source,
                problem:
                    "format_version \(formatVersion) is not one this version reads (\(Self.readableFormatVersions.lowerBound) to \(Self.readableFormatVersions.upperBound))"
            )
        }
        if let name = weightLayoutName, formatVersion < 3, name != ChunkWeightLayout.pytorch.rawValue {
            throw ChunkingError.invalidManifest(
                source: source,
                problem: "weight_layout \(name.debugDescription) needs format_version 3, not \(formatVersion)")
        }
        if let name = weightLayoutName, ChunkWeightLayout(rawValue: name) == nil {
            throw ChunkingError.invalidManifest(
                source: source,
                problem:
                    "weight_layout \(name.debugDescription) is not one this version reads (\(ChunkWeightLayout.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
    }

    public init(
        modelName: String,
        modelType: String,
        numLayers: Int,
        dtype: String,
        compression: String,
        weightLayout: ChunkWeightLayout = .pytorch,
        chunks: [String: Chunk],
        files: [String: FileEntry]
    ) {
        // The oldest version that holds the chunk set (see ``currentFormatVersion``).
        let needsVersion2 = modelType != "bert" || chunks["shared"] != nil || chunks["head"] != nil
        formatVersion = weightLayout != .pytorch ? 3 : needsVersion2 ? 2 : 1
        weightLayoutName = weightLayout.manifestValue
        self.modelName = modelName
        self.modelType = modelType
        self.numLayers = numLayers
        self.dtype = dtype
        self.compression = compression
        self.chunks = chunks
        self.files = files
        totalSizeMB = chunks.values.reduce(0) { $0 + $1.sizeMB }
    }

    /// The manifest as pretty-printed JSON with sorted keys, so equal manifests are equal bytes.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0a]
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "'\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "'\(path(context))' has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "it is not valid JSON (\(context.debugDescription))" : "'\(path(context))' is invalid"
        @unknown default:
            return "\(error)"
        }
    }
}
