import Foundation
import StreamingWeights
import Testing

/// A storage backend that fails with "no space left on device" once `limit` bytes were written,
/// standing in for a full disk.
final class FullDiskBackend: StorageBackend, @unchecked Sendable {
    let inner: FileSystemBackend
    let limit: Int
    private var written = 0
    var location: String { inner.location }

    init(inner: FileSystemBackend, limit: Int) {
        self.inner = inner
        self.limit = limit
    }

    func read(_ key: String) async throws -> ByteStorage { try await inner.read(key) }
    func read(_ key: String, range: Range<Int>) async throws -> [UInt8] { try await inner.read(key, range: range) }
    func size(of key: String) async throws -> Int? { try await inner.size(of: key) }
    func list(prefix: String) async throws -> [String] { try await inner.list(prefix: prefix) }
    func delete(_ key: String) async throws { try await inner.delete(key) }
    func writer(for key: String) async throws -> any StorageWriter {
        Writer(inner: try await inner.writer(for: key), backend: self, key: key)
    }

    final class Writer: StorageWriter {
        let inner: any StorageWriter
        let backend: FullDiskBackend
        let key: String
        init(inner: any StorageWriter, backend: FullDiskBackend, key: String) {
            self.inner = inner
            self.backend = backend
            self.key = key
        }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            backend.written += bytes.count
            guard backend.written <= backend.limit else { throw FileError(path: key, operation: "write", code: ENOSPC) }
            try inner.write(bytes)
        }
        func commit() throws { try inner.commit() }
    }
}

@Suite("Chunking a model")
struct ModelChunkerTests {
    static let tiny = Repository.path("Fixtures/bert-tiny")

    static func chunk(
        _ model: String = tiny, into directory: String, compress: Bool = false, dtype: DType? = nil,
        weightLayout: ChunkWeightLayout = .pytorch
    ) async throws -> ChunkManifest {
        try await ModelChunker(
            modelName: model, storage: try FileSystemBackend(root: directory, create: true), compress: compress,
            dtype: dtype, weightLayout: weightLayout
        )
        .chunkModel()
    }

    @Test("bert-tiny becomes embeddings, two layers and a pooler whose tensors equal the source's, bit for bit")
    func chunksEqualSource() async throws {
        let directory = try TemporaryDirectory()
        let manifest = try await Self.chunk(into: directory.path)
        #expect(manifest.formatVersion == 1 && manifest.numLayers == 2 && manifest.dtype == "float32")
        #expect(manifest.compression == "none" && manifest.modelType == "bert")
        #expect(manifest.orderedChunkNames == ["embeddings", "layer_0", "layer_1", "pooler"])
        #expect(
            Set(manifest.files.keys) == [
                "config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
            ])
        let source = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        let prefixes = [
            "embeddings": "embeddings.", "layer_0": "encoder.layer.0.", "layer_1": "encoder.layer.1.",
            "pooler": "pooler.",
        ]
        for (name, prefix) in prefixes {
            let chunk = try SafetensorsFile(contentsOfFile: directory.file("\(name).safetensors"))
            let expected = source.tensorNames.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            #expect(Set(chunk.tensorNames) == Set(expected), "\(name)")
            #expect(name.hasPrefix("layer") ? chunk.tensorNames.count == 16 : true)
            for tensorName in expected {
                #expect(chunk[tensorName] == source[prefix + tensorName], "\(name) \(tensorName)")
                let entry = try #require(manifest.chunks[name]?.tensors[tensorName])
                #expect(entry.dtype == "F32" && entry.shape == chunk[tensorName]?.shape.dimensions)
            }
        }
        let decoded = try ChunkManifest(
            json: Array(try Data(contentsOf: URL(fileURLWithPath: directory.file("chunk_info.json")))),
            source: "chunk_info.json")
        #expect(decoded == manifest)
        #expect(
            abs(manifest.totalSizeMB - manifest.chunks.values.reduce(0) { $0 + Double($1.size) } / 1_048_576) < 1e-9)
    }

    /// Uncompressed, each chunk's SHA-256 comes from PairedChunkHashes (two chunks at a time,
    /// apart from the writers) where the CPU has the SHA extensions; compressed, from the writer.
    @Test(
        "sha256sum and b3sum of every file agree with the manifest, and verify finds nothing wrong, compressed or not",
        arguments: [false, true])
    func hashesAgreeWithSha256sumAndB3sum(compress: Bool) async throws {
        let directory = try TemporaryDirectory()
        let manifest = try await Self.chunk(into: directory.path, compress: compress)
        var sha256: [String: String] = [:]
        var blake3: [String: String] = [:]
        for chunk in manifest.chunks.values { (sha256[chunk.file], blake3[chunk.file]) = (chunk.sha256, chunk.blake3) }
        for (name, entry) in manifest.files { (sha256[name], blake3[name]) = (entry.sha256, entry.blake3) }
        #expect(blake3.count == sha256.count, "every file has a BLAKE3 digest")
        for (tool, expected) in [("/usr/bin/sha256sum", sha256), ("/usr/bin/b3sum", blake3)] {
            let result = try ProcessRunner.run(tool, expected.keys.sorted().map { directory.file($0) })
            #expect(result.status == 0, "\(tool): \(result.standardError)")
            let lines = result.outputText.split(separator: "\n")
            #expect(lines.count == expected.count)
            for line in lines {
                let parts = line.split(separator: " ", maxSplits: 1)
                let file = (String(parts[1]).trimmingCharacters(in: .whitespaces) as NSString).lastPathComponent
                #expect(expected[file] == String(parts[0]), "\(tool) \(file)")
            }
        }
        #expect(try await ChunkVerifier(storage: FileSystemBackend(root: directory.path)).verify().isEmpty)
    }

    @Test("verify catches a BLAKE3 digest that disagrees with the file (its SHA-256 intact), naming both")
    func verifyChecksBlake3() async throws {
        let directory = try TemporaryDirectory()
        var manifest = try await Self.chunk(into: directory.path, compress: false)
        let listed = try #require(manifest.chunks["layer_0"]?.blake3)
        let wrong = String(repeating: "0", count: 64)
        manifest.chunks["layer_0"]?.blake3 = wrong
        try Data(try manifest.encoded()).write(to: URL(fileURLWithPath: directory.file(ChunkManifest.fileName)))
        let problems = try await ChunkVerifier(storage: FileSystemBackend(root: directory.path)).verify().map {
            "\($0)"
        }
        #expect(
            problems == [
                "'layer_0.safetensors' fails its checksum: the manifest says BLAKE3 \(wrong), the file has BLAKE3 \(listed)"
            ])
    }

    @Test("gzip -d of a compressed chunk gives the uncompressed chunk byte for byte")
    func compressedChunksGunzip() async throws {
        let plain = try TemporaryDirectory()
        let compressed = try TemporaryDirectory()
        _ = try await Self.chunk(into: plain.path)
        let manifest = try await Self.chunk(into: compressed.path, compress: true)
        #expect(manifest.compression == "gzip" && manifest.chunks["layer_0"]?.file == "layer_0.safetensors.gz")
        for name in ["embeddings", "layer_0", "layer_1", "pooler"] {
            let result = try ProcessRunner.run(
                "/usr/bin/env", ["gzip", "-dc", compressed.file("\(name).safetensors.gz")])
            #expect(result.status == 0)
            #expect(
                result.standardOutput
                    == (try Data(contentsOf: URL(fileURLWithPath: plain.file("\(name).safetensors")))), "\(name)")
        }
    }

    @Test("float16 and bfloat16 chunks hold the source rounded to nearest even, and still run")
    func convertedChunks() async throws {
        let source = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        for dtype in [DType.float16, .bfloat16] {
            let directory = try TemporaryDirectory()
            let manifest = try await Self.chunk(into: directory.path, dtype: dtype)
            #expect(manifest.dtype == dtype.pythonName)
            let chunk = try SafetensorsFile(contentsOfFile: directory.file("layer_1.safetensors"))
            let original = try #require(source["encoder.layer.1.intermediate.dense.weight"])
            let stored = try #require(chunk["intermediate.dense.weight"])
            let rounded = try original.converted(to: dtype)
            #expect(stored.dtype == dtype && stored == rounded)
            let relative: Float = dtype == .float16 ? 0x1p-11 : 0x1p-8
            for (a, b) in zip(try original.floatValues(), try stored.floatValues()) {
                #expect(abs(a - b) <= abs(a) * relative + 1e-7)
            }
            let model = try await BertModel(loadingFrom: RemoteTensorSource(chunkDirectory: directory.path))
            #expect((model.layers as? ResidentLayers)?.layers.count == 2)
        }
    }

    @Test(
        "panels32 stores each layer's Linear weights packed in panels of 32 outputs; every other tensor as the source's"
    )
    func panelLayout() async throws {
        let source = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        let directory = try TemporaryDirectory()
        let manifest = try await Self.chunk(into: directory.path, weightLayout: .panels32)
        #expect(manifest.formatVersion == 3 && manifest.weightLayout == .panels32)
        let reread = try ChunkManifest(
            json: Array(try Data(contentsOf: URL(fileURLWithPath: directory.file("chunk_info.json")))), source: "m")
        #expect(reread == manifest && reread.weightLayoutName == "panels32")
        var packed = 0
        for chunkName in manifest.orderedChunkNames {
            let chunk = try SafetensorsFile(contentsOfFile: directory.file(chunkName + ".safetensors"))
            let prefix = chunkName.hasPrefix("layer_") ? "encoder.layer.\(chunkName.dropFirst(6))." : chunkName + "."
            for name in chunk.tensorNames {
                let original = try #require(source[prefix + name], "\(name)")
                let stored = try #require(chunk[name])
                #expect(manifest.chunks[chunkName]?.tensors[name]?.shape == stored.shape.dimensions)
                guard chunkName.hasPrefix("layer_"), original.shape.rank == 2 else {
                    #expect(stored == original, "\(chunkName) \(name)")
                    continue
                }
                let (rows, depth) = (original.shape.dimensions[0], original.shape.dimensions[1])
                #expect(stored.dtype == .float32 && stored.shape == [(rows + 31) / 32, depth, 32], "\(name)")
                let (weights, panels) = (try original.floatValues(), try stored.floatValues())
                for row in 0..<rows {
                    for k in 0..<depth {
                        #expect(panels[(row / 32 * depth + k) * 32 + row % 32] == weights[row * depth + k])
                    }
                }
                packed += 1
            }
        }
        #expect(packed == 2 * 6)
    }

    /// A model directory holding bert-tiny's config and vocabulary and `tensors` (full names).
    static func model(_ tensors: [String: Tensor], config changes: [String: Any] = [:]) throws -> TemporaryDirectory {
        let model = try TemporaryDirectory()
        var config = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tiny + "/config.json")))
                as? [String: Any])
        config.merge(changes) { $1 }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: model.file("config.json")))
        try FileManager.default.copyItem(atPath: tiny + "/vocab.txt", toPath: model.file("vocab.txt"))
        var writer = SafetensorsWriter()
        for (name, tensor) in tensors { try writer.add(tensor, named: name) }
        try writer.write(toFile: model.file("model.safetensors"))
        return model
    }

    /// A one-layer BERT of hidden size 40 (two heads of 20) and intermediate size 100, random
    /// weights: none of its Linear layers has a multiple of 32 outputs, so pre-packed panels end
    /// part-filled.
    static func unevenModel() throws -> TemporaryDirectory {
        var state: UInt64 = 0x2545_f491_4f6c_dd1d
        func random(_ shape: Shape, scale: Float = 0.1) -> Tensor {
            let values = (0..<shape.elementCount).map { _ -> Float in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
            }
            return Tensor(float32: values, shape: shape)
        }
        let (hidden, inner) = (40, 100)
        var tensors: [String: Tensor] = [
            "embeddings.word_embeddings.weight": random([30522, hidden]),
            "embeddings.position_embeddings.weight": random([512, hidden]),
            "embeddings.token_type_embeddings.weight": random([2, hidden]),
            "pooler.dense.weight": random([hidden, hidden]), "pooler.dense.bias": random([hidden]),
        ]
        for name in [
            "embeddings.LayerNorm", "encoder.layer.0.attention.output.LayerNorm", "encoder.layer.0.output.LayerNorm",
        ] {
            tensors[name + ".weight"] = random([hidden], scale: 1)
            tensors[name + ".bias"] = random([hidden])
        }
        for (name, outputs, inputs) in [
            ("attention.self.query", hidden, hidden), ("attention.self.key", hidden, hidden),
            ("attention.self.value", hidden, hidden), ("attention.output.dense", hidden, hidden),
            ("intermediate.dense", inner, hidden), ("output.dense", hidden, inner),
        ] {
            tensors["encoder.layer.0.\(name).weight"] = random([outputs, inputs])
            tensors["encoder.layer.0.\(name).bias"] = random([outputs])
        }
        return try model(
            tensors,
            config: [
                "hidden_size": hidden, "intermediate_size": inner, "num_hidden_layers": 1, "num_attention_heads": 2,
            ])
    }

    /// A model directory whose weights are bert-tiny's stored as `dtype` (through a chunk set).
    static func tinyModel(in dtype: DType) async throws -> TemporaryDirectory {
        let chunks = try TemporaryDirectory()
        _ = try await chunk(into: chunks.path, dtype: dtype)
        let model = try TemporaryDirectory()
        for file in ["config.json", "vocab.txt"] {
            try FileManager.default.copyItem(atPath: chunks.file(file), toPath: model.file(file))
        }
        var writer = SafetensorsWriter()
        for chunkName in ["embeddings", "layer_0", "layer_1", "pooler"] {
            let chunk = try SafetensorsFile(contentsOfFile: chunks.file(chunkName + ".safetensors"))
            let prefix = chunkName.hasPrefix("layer_") ? "encoder.layer.\(chunkName.dropFirst(6))." : chunkName + "."
            for name in chunk.tensorNames { try writer.add(try #require(chunk[name]), named: prefix + name) }
        }
        try writer.write(toFile: model.file("model.safetensors"))
        return model
    }

    @Test(
        "panels32 holds float16 panels (the source's values rounded, as --dtype float16 rounds them); bfloat16 is refused by name"
    )
    func panelLayoutDTypes() async throws {
        let source = try SafetensorsFile(contentsOfFile: Self.tiny + "/model.safetensors")
        let directory = try TemporaryDirectory()
        let manifest = try await Self.chunk(into: directory.path, dtype: .float16, weightLayout: .panels32)
        #expect(manifest.dtype == "float16" && manifest.weightLayout == .panels32)
        let chunk = try SafetensorsFile(contentsOfFile: directory.file("layer_1.safetensors"))
        let original = try #require(source["encoder.layer.1.intermediate.dense.weight"]).converted(to: .float16)
        let stored = try #require(chunk["intermediate.dense.weight"])
        #expect(stored.dtype == .float16 && stored.shape == [16, 128, 32])
        let (weights, panels) = (try original.floatValues(), try stored.floatValues())
        for row in 0..<512 {
            for k in 0..<128 { #expect(panels[(row / 32 * 128 + k) * 32 + row % 32] == weights[row * 128 + k]) }
        }
        #expect(try #require(chunk["output.LayerNorm.weight"]).dtype == .float16)
        // A float16 model's panels stay float16 without --dtype.
        let half = try await Self.tinyModel(in: .float16)
        let halfPanels = try TemporaryDirectory()
        #expect(try await Self.chunk(half.path, into: halfPanels.path, weightLayout: .panels32).dtype == "float16")
        #expect(
            try SafetensorsFile(contentsOfFile: halfPanels.file("layer_1.safetensors"))["intermediate.dense.weight"]
                == stored)
        let refused = try TemporaryDirectory()
        await #expect(
            throws: ChunkingError.unsupportedLayoutDType(layout: "panels32", dtype: "bfloat16", model: nil)
        ) {
            _ = try await Self.chunk(into: refused.path, dtype: .bfloat16, weightLayout: .panels32)
        }
        let brain = try await Self.tinyModel(in: .bfloat16)
        await #expect(
            throws: ChunkingError.unsupportedLayoutDType(
                layout: "panels32", dtype: "bfloat16", model: URL(fileURLWithPath: brain.path).lastPathComponent)
        ) {
            _ = try await Self.chunk(brain.path, into: refused.path, weightLayout: .panels32)
        }
        let widened = try await Self.chunk(brain.path, into: refused.path, dtype: .float32, weightLayout: .panels32)
        #expect(widened.dtype == "float32" && widened.weightLayout == .panels32)
        // Refused before anything is touched: the chunk set already there keeps its manifest.
        let kept = try TemporaryDirectory()
        _ = try await Self.chunk(brain.path, into: kept.path)
        await #expect(throws: ChunkingError.self) {
            _ = try await Self.chunk(brain.path, into: kept.path, weightLayout: .panels32)
        }
        #expect(try await ChunkVerifier(storage: FileSystemBackend(root: kept.path)).verify().isEmpty)
        // Every packed weight is checked, not only the first floating tensor: float32 embeddings
        // before bfloat16 layers are refused too.
        var mixed: [String: Tensor] = [:]
        for name in source.tensorNames {
            let tensor = try #require(source[name])
            mixed[name] = name.hasPrefix("encoder.") ? try tensor.converted(to: .bfloat16) : tensor
        }
        let mixedModel = try Self.model(mixed)
        await #expect(
            throws: ChunkingError.unsupportedLayoutDType(
                layout: "panels32", dtype: "bfloat16", model: URL(fileURLWithPath: mixedModel.path).lastPathComponent)
        ) {
            _ = try await Self.chunk(mixedModel.path, into: try TemporaryDirectory().path, weightLayout: .panels32)
        }
    }

    @Test("A pre-packed weight of another panel shape or dtype is refused, naming the tensor")
    func panelWeightRefused() async throws {
        let directory = try TemporaryDirectory()
        _ = try await Self.chunk(into: directory.path, weightLayout: .panels32)
        let chunk = try SafetensorsFile(contentsOfFile: directory.file("layer_0.safetensors"))
        let configuration = try BertConfiguration(contentsOfFile: directory.file("config.json"))
        func layer(replacing weight: Tensor) throws {
            var tensors: [String: Tensor] = [:]
            for name in chunk.tensorNames { tensors[name] = chunk[name] }
            tensors["intermediate.dense.weight"] = weight
            _ = try BertLayer(
                ComponentTensors(component: .layer(0), tensors: tensors, source: "test"), configuration: configuration)
        }
        #expect(
            throws: ModelError.shapeMismatch(
                component: "layer_0", name: "intermediate.dense.weight", expected: [16, 128, 32], actual: [32, 128, 16])
        ) {
            try layer(replacing: Tensor(float32: [Float](repeating: 0, count: 32 * 128 * 16), shape: [32, 128, 16]))
        }
        let brain = try Tensor(float32: [Float](repeating: 0, count: 16 * 128 * 32), shape: [16, 128, 32])
            .converted(to: .bfloat16)
        #expect(
            throws: ModelError.unsupportedDType(
                component: "layer_0", name: "intermediate.dense.weight (pre-packed panels)", dtype: .bfloat16)
        ) {
            try layer(replacing: brain)
        }
    }

    @Test("A name that resolves nowhere lists every place tried", arguments: [true, false])
    func unknownModel(offline: Bool) async throws {
        let directory = try TemporaryDirectory()
        let cache = try TemporaryDirectory()
        // Online, the download goes to an endpoint where nothing listens.
        let environment = [
            "HF_HUB_CACHE": cache.path, "HF_ENDPOINT": "http://127.0.0.1:9", "STREAMING_WEIGHTS_MODELS": directory.path,
        ]
        await #expect {
            _ = try await ModelChunker(
                modelName: "no-such-org/no-such-model",
                storage: FileSystemBackend(root: directory.path),
                offline: offline,
                environment: environment
            ).chunkModel()
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("cannot find model 'no-such-org/no-such-model'; tried:")
                && text.contains("'\(directory.path)/no-such-org/no-such-model'")
                && text.contains("Fixtures/no-such-org/no-such-model")
                && text.contains("the Hugging Face cache '\(cache.path)/models--no-such-org--no-such-model'")
                && text.contains(offline ? "no download: offline" : "a download from http://127.0.0.1:9, which failed")
        }
    }

    @Test("A directory without config.json is refused")
    func noConfig() async throws {
        let model = try TemporaryDirectory()
        let output = try TemporaryDirectory()
        await #expect(throws: ChunkingError.incompleteModel("the directory '\(model.path)' has no config.json")) {
            _ = try await Self.chunk(model.path, into: output.path)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path).isEmpty)
    }

    @Test("A truncated safetensors file is refused and nothing is written")
    func truncatedWeights() async throws {
        let model = try TemporaryDirectory()
        let output = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: model.file("config.json"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.tiny + "/model.safetensors"))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: model.file("model.safetensors")))
        await #expect {
            _ = try await Self.chunk(model.path, into: output.path)
        } throws: { error in
            "\(error)".contains(model.file("model.safetensors")) && "\(error)".contains("outside the")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: output.path).isEmpty)
    }

    @Test("A shard index that names a missing shard is refused, naming it")
    func missingShard() async throws {
        let model = try TemporaryDirectory()
        let output = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: model.file("config.json"))
        try
            #"{"metadata": {}, "weight_map": {"embeddings.word_embeddings.weight": "model-00001-of-00002.safetensors"}}"#
            .write(toFile: model.file("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        await #expect(
            throws: CheckpointError.missingShard(
                index: model.file("model.safetensors.index.json"), shard: "model-00001-of-00002.safetensors")
        ) {
            _ = try await Self.chunk(model.path, into: output.path)
        }
    }

    @Test("An output directory that is a file, or that cannot be created, is refused")
    func unusableOutput() async throws {
        let directory = try TemporaryDirectory()
        try "x".write(toFile: directory.file("file"), atomically: true, encoding: .utf8)
        await #expect(
            throws: StorageError.unusableRoot(
                location: "directory '\(directory.file("file"))'", reason: "it is a file, not a directory")
        ) {
            _ = try await Self.chunk(into: directory.file("file"))
        }
        // Not even root may create a directory in /proc.
        await #expect {
            _ = try await Self.chunk(into: "/proc/streaming-weights-chunks")
        } throws: { error in
            "\(error)".hasPrefix("cannot use directory '/proc/streaming-weights-chunks': it cannot be created")
        }
    }

    @Test("A full disk stops the run with a clear error; no file is half-written and no manifest appears")
    func fullDisk() async throws {
        let directory = try TemporaryDirectory()
        // A previous complete run, whose manifest must not survive a failed rerun.
        _ = try await Self.chunk(into: directory.path)
        for limit in [100, 16_000_000, 16_800_000] {
            let storage = FullDiskBackend(inner: try FileSystemBackend(root: directory.path), limit: limit)
            await #expect {
                _ = try await ModelChunker(modelName: Self.tiny, storage: storage).chunkModel()
            } throws: { error in
                "\(error)".contains("No space left on device")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(!names.contains("chunk_info.json"), "limit \(limit)")
            #expect(!names.contains { $0.contains(".partial-") }, "limit \(limit): \(names)")
            for name in names where name.hasSuffix(".safetensors") {
                _ = try SafetensorsFile(contentsOfFile: directory.file(name))
            }
        }
    }

    @Test("verify names a chunk altered after chunking, a missing file and a changed tensor list")
    func verifyFindsDamage() async throws {
        let directory = try TemporaryDirectory()
        let manifest = try await Self.chunk(into: directory.path)
        var layer = try Data(contentsOf: URL(fileURLWithPath: directory.file("layer_0.safetensors")))
        layer[layer.count - 1] ^= 0xff
        try layer.write(to: URL(fileURLWithPath: directory.file("layer_0.safetensors")))
        try FileManager.default.removeItem(atPath: directory.file("vocab.txt"))
        var writer = SafetensorsWriter()
        try writer.add(Tensor(float32: [1], shape: [1]), named: "dense.weight")
        try writer.write(toFile: directory.file("pooler.safetensors"))
        var edited = manifest
        let pooler = try Data(contentsOf: URL(fileURLWithPath: directory.file("pooler.safetensors")))
        edited.chunks["pooler"]?.size = pooler.count
        edited.chunks["pooler"]?.sha256 = Digest.sha256(pooler).hexString
        edited.chunks["pooler"]?.blake3 = Digest.blake3(pooler).hexString
        try Data(try edited.encoded()).write(to: URL(fileURLWithPath: directory.file("chunk_info.json")))

        let problems = try await ChunkVerifier(storage: FileSystemBackend(root: directory.path)).verify().map {
            "\($0)"
        }
        #expect(problems.count == 3)
        #expect(problems.contains { $0.hasPrefix("'layer_0.safetensors' fails its checksum") })
        #expect(
            problems.contains {
                $0 == "'vocab.txt' is listed in the manifest but missing from directory '\(directory.path)'"
            })
        #expect(
            problems.contains {
                $0.hasPrefix(
                    "chunk 'pooler' does not match the manifest: missing dense.bias; other dtype or shape for dense.weight"
                )
            })
    }

    @Test("A manifest of an unknown format version is refused")
    func unknownFormatVersion() throws {
        #expect(
            throws: ChunkingError.invalidManifest(
                source: "m.json", problem: "format_version 4 is not one this version reads (1 to 3)")
        ) {
            _ = try ChunkManifest(
                json: Array(
                    #"{"format_version": 4, "model_name": "x", "model_type": "bert", "num_layers": 0, "dtype": "float32", "compression": "none", "chunks": {}, "files": {}, "total_size_mb": 0}"#
                        .utf8),
                source: "m.json")
        }
        // The versions this code writes read back.
        for version in [1, 2, 3] {
            let manifest = try ChunkManifest(
                json: Array(
                    #"{"format_version": \#(version), "model_name": "x", "model_type": "bert", "num_layers": 0, "dtype": "float32", "compression": "none", "chunks": {}, "files": {}, "total_size_mb": 0}"#
                        .utf8),
                source: "m.json")
            #expect(manifest.formatVersion == version)
        }
        #expect(
            throws: ChunkingError.invalidManifest(
                source: "m.json",
                problem: #"weight_layout "columns64" is not one this version reads (pytorch, panels32)"#)
        ) {
            _ = try ChunkManifest(
                json: Array(
                    #"{"format_version": 3, "model_name": "x", "model_type": "bert", "num_layers": 0, "dtype": "float32", "compression": "none", "weight_layout": "columns64", "chunks": {}, "files": {}, "total_size_mb": 0}"#
                        .utf8),
                source: "m.json")
        }
        #expect(
            throws: ChunkingError.invalidManifest(
                source: "m.json", problem: #"weight_layout "panels32" needs format_version 3, not 2"#)
        ) {
            _ = try ChunkManifest(
                json: Array(
                    #"{"format_version": 2, "model_name": "x", "model_type": "bert", "num_layers": 0, "dtype": "float32", "compression": "none", "weight_layout": "panels32", "chunks": {}, "files": {}, "total_size_mb": 0}"#
                        .utf8),
                source: "m.json")
        }
        #expect(throws: ChunkingError.invalidManifest(source: "m.json", problem: "'model_name' is missing")) {
            _ = try ChunkManifest(json: Array(#"{"format_version": 1}"#.utf8), source: "m.json")
        }
    }
}
