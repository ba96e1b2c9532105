import Foundation
import StreamingWeights
import Testing

/// A process started from a module of streaming_weights_testing (Tests/Support) that prints one JSON
/// line describing itself (nginx, cluster), stopped when the value is dropped.
final class ScriptService: @unchecked Sendable {
    let process: BackgroundProcess
    let details: [String: Any]

    init(_ module: String, _ arguments: [String]) throws {
        process = try BackgroundProcess(Repository.python, ["-m", "streaming_weights_testing.\(module)"] + arguments)
        let line = try process.firstLine()
        details = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(module) printed '\(line)'")
    }

    func string(_ key: String) throws -> String { try #require(details[key] as? String, "no \(key)") }

    /// nginx serving chunk directory `directory` at the returned service's `url`.
    static func nginx(serving directory: String) throws -> ScriptService {
        try ScriptService("nginx", ["static", directory])
    }
}

/// Flips one byte of the file at `path`, at `offset` from its end.
func tamper(_ path: String, offsetFromEnd: Int = 100) throws {
    var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[bytes.count - offsetFromEnd] ^= 0x01
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

@Suite("Chunk sources by URL")
struct ChunkSourceTests {
    @Test("URLs parse to the source they name; others are refused naming what is wrong")
    func parsing() throws {
        #expect(try ChunkSource("ws://127.0.0.1:8765") == .weightServer(url: "ws://127.0.0.1:8765"))
        #expect(try ChunkSource("WSS://example.com") == .weightServer(url: "WSS://example.com"))
        #expect(try ChunkSource("s3://bucket") == .s3(bucket: "bucket", prefix: ""))
        #expect(try ChunkSource("s3://bucket/models/bert/") == .s3(bucket: "bucket", prefix: "models/bert"))
        #expect(try ChunkSource("https://cdn.example.com/m?t=1") == .http(url: "https://cdn.example.com/m?t=1"))
        #expect(try ChunkSource("file:///srv/chunks%20x") == .directory(path: "/srv/chunks x"))
        #expect(try ChunkSource("chunks/bert-tiny") == .directory(path: "chunks/bert-tiny"))
        #expect(throws: ChunkSourceError.noBucket("s3://")) { try ChunkSource("s3://") }
        #expect(throws: ChunkSourceError.noBucket("s3:///prefix")) { try ChunkSource("s3:///prefix") }
        #expect(throws: ChunkSourceError.relativeFileURL("file://chunks")) { try ChunkSource("file://chunks") }
        #expect(throws: ChunkSourceError.unsupportedScheme("ftp://host/x", scheme: "ftp")) {
            try ChunkSource("ftp://host/x")
        }
        #expect(throws: ChunkSourceError.empty) { try ChunkSource("") }
        let reader = try HTTPObjectReader(url: "http://host/dir/?token=a%20b")
        #expect(try reader.url(of: "layer 0.safetensors") == "http://host/dir/layer%200.safetensors?token=a%20b")
        #expect(throws: StorageError.self) { try reader.url(of: "../secret") }
        #expect(throws: StorageError.self) { try HTTPObjectReader(url: "http:///nohost") }
    }

    @Test(
        "file:// and a plain path stream a chunk directory: outputs equal the local model's, with the same statistics")
    func directory() async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path)
        let (batch, expected) = try await StreamingBertModelTests.expected(chunks.path)
        for source in ["file://" + chunks.path, chunks.path] {
            let model = try await StreamingBertModel(source: source, cacheSize: 1, prefetchDepth: 1)
            #expect(try await model.forward(batch).lastHiddenState == expected.lastHiddenState)
            #expect(model.inferenceStats.layerFetches == 2 && model.inferenceStats.bytesFetched > 0)
        }
        await #expect(throws: StorageError.self) { try await StreamingBertModel(source: chunks.path + "/missing") }
    }

    @Test(
        "http:// against nginx serving a chunk directory (plain and gzip) equals the local output",
        arguments: [false, true])
    func nginx(compress: Bool) async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path, compress: compress)
        let nginx = try ScriptService.nginx(serving: chunks.path)
        let (batch, expected) = try await StreamingBertModelTests.expected(chunks.path)
        for (cacheSize, prefetch) in [(1, 0), (1, 1), (2, 1)] {
            let model = try await StreamingBertModel(
                source: try nginx.string("url"), cacheSize: cacheSize, prefetchDepth: prefetch)
            for _ in 0..<2 {
                let output = try await model.forward(batch)
                #expect(output.lastHiddenState == expected.lastHiddenState)
                #expect(output.poolerOutput == expected.poolerOutput)
            }
            #expect(model.inferenceStats.totalInferences == 2)
        }
    }

    @Test("A server that ignores Range (Python's http.server) still serves ranged parallel reads correctly")
    func serverWithoutRanges() async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path)
        let script = """
            import functools, http.server, sys
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            print(server.server_address[1], flush=True)
            server.serve_forever()
            """
        let server = try BackgroundProcess(Repository.python, ["-c", script, chunks.path])
        let port = try server.firstLine()
        var reader = try HTTPObjectReader(url: "http://127.0.0.1:\(port)")
        reader.partSize = 1 << 20  // the 16 MB embeddings become 16 ranges, most starting mid-file
        let (batch, expected) = try await StreamingBertModelTests.expected(chunks.path)
        let model = try await StreamingBertModel(transport: StoreTransport(reader: reader), cacheSize: 1)
        #expect(try await model.forward(batch).lastHiddenState == expected.lastHiddenState)
    }

    @Test("A tampered or truncated file behind the HTTP server is caught, naming the object")
    func tampered() async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path)
        let (batch, _) = try await StreamingBertModelTests.expected(chunks.path)
        try tamper(chunks.file("layer_1.safetensors"))
        let nginx = try ScriptService.nginx(serving: chunks.path)
        let model = try await StreamingBertModel(source: try nginx.string("url"), cacheSize: 1, prefetchDepth: 0)
        let error = await #expect(throws: ModelError.self) { try await model.forward(batch) }
        #expect("\(error.map(String.init(describing:)) ?? "")".contains("layer_1"))
        // A file shorter than the manifest says ends the transfer early: an error naming it.
        let layer1 = chunks.file("layer_1.safetensors")
        let whole = try Data(contentsOf: URL(fileURLWithPath: layer1))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: layer1))
        let short = await #expect(throws: (any Error).self) { try await model.forward(batch) }
        #expect(
            "\(short.map(String.init(describing:)) ?? "")".contains("layer_1.safetensors: received"),
            "\(String(describing: short))")
        // A damaged tokenizer file stops the model from loading at all.
        try tamper(chunks.file("vocab.txt"), offsetFromEnd: 3)
        let loading = await #expect(throws: ModelError.self) {
            try await StreamingBertModel(source: try nginx.string("url"))
        }
        #expect("\(loading.map(String.init(describing:)) ?? "")".contains("vocab.txt"))
    }

    @Test("HTTP 503s and a connection reset mid-object are retried and resumed; a missing set is a clear error")
    func httpFaults() async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path)
        let nginx = try ScriptService.nginx(serving: chunks.path)
        let base = try nginx.string("url")
        let upstream = String(base.dropLast("/chunks".count))
        let (batch, expected) = try await StreamingBertModelTests.expected(chunks.path)
        for faults in [
            ["--match", "layer_0", "--fail-status", "503", "--fail-count", "2"],
            ["--match", "embeddings", "--reset-after", "3000000", "--reset-count", "2"],
        ] {
            let proxy = try BackgroundProcess(
                Repository.python, ["-m", "streaming_weights_testing.fault_proxy", "--upstream", upstream] + faults)
            let port = try proxy.firstLine()
            let model = try await StreamingBertModel(source: "http://127.0.0.1:\(port)/chunks", cacheSize: 1)
            #expect(try await model.forward(batch).lastHiddenState == expected.lastHiddenState, "\(faults)")
        }
        let missing = await #expect(throws: StorageError.self) {
            try await StreamingBertModel(source: base + "/nothing-here")
        }
        #expect(missing == .notFound(key: "chunk_info.json", location: base + "/nothing-here"))
    }
}

@Suite("Chunk sources: s3:// straight from the bucket", .serialized)
struct S3ChunkSourceTests {
    static func options(_ server: S3TestServer, secret: String? = nil) -> ChunkSource.Options {
        var options = ChunkSource.Options()
        options.s3Endpoint = server.details.endpoint
        options.credentialChain = AWSCredentialChain(
            accessKey: server.details.accessKey, secretKey: secret ?? server.details.secretKey,
            region: server.details.region, environment: ["AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"])
        return options
    }

    @Test(
        "s3:// against moto (signatures enforced) and SeaweedFS equals the local output",
        arguments: ["moto", "seaweedfs"])
    func equalsLocal(kind: String) async throws {
        let server = try S3TestServer(kind)
        let prefix = "direct/bert-tiny"
        _ = try await ModelChunker(modelName: ModelChunkerTests.tiny, storage: server.backend(prefix: prefix))
            .chunkModel()
        let local = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: local.path)
        let (batch, expected) = try await StreamingBertModelTests.expected(local.path)
        let source = "s3://\(server.details.bucket)/\(prefix)"
        for (cacheSize, prefetch) in [(1, 0), (2, 1)] {
            let model = try await StreamingBertModel(
                source: source, options: Self.options(server), cacheSize: cacheSize, prefetchDepth: prefetch)
            for _ in 0..<2 { #expect(try await model.forward(batch).lastHiddenState == expected.lastHiddenState) }
        }
        let denied = await #expect(throws: S3Error.self) {
            try await StreamingBertModel(source: source, options: Self.options(server, secret: "wrong"))
        }
        #expect(denied?.code == "SignatureDoesNotMatch")
        await #expect(throws: StorageError.notFound(key: "chunk_info.json", location: "s3://chunks/nothing")) {
            try await StreamingBertModel(source: "s3://chunks/nothing", options: Self.options(server))
        }
    }

    @Test("infer --source s3:// (credentials and endpoint from the environment) prints what --chunks-dir prints")
    func inferCommand() async throws {
        let server = try S3TestServer("moto")
        let prefix = "cli/bert-tiny"
        _ = try await ModelChunker(modelName: ModelChunkerTests.tiny, storage: server.backend(prefix: prefix))
            .chunkModel()
        let local = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: local.path)
        let texts = ["Hello, world!", "Streaming weights."]
        let expected = try InferCommandTests.infer(["--chunks-dir", local.path, "--json", "--hidden"] + texts)
        let environment = [
            "AWS_ACCESS_KEY_ID": server.details.accessKey, "AWS_SECRET_ACCESS_KEY": server.details.secretKey,
            "AWS_ENDPOINT_URL_S3": server.details.endpoint, "AWS_EC2_METADATA_DISABLED": "true",
            "HOME": "/nonexistent",
        ]
        let streamed = try ProcessRunner.run(
            Executables.path("infer"),
            ["--source", "s3://chunks/\(prefix)", "--json", "--hidden", "--cache-size", "1"] + texts,
            environment: environment)
        #expect(streamed.status == 0, "\(streamed.standardError)")
        let a = try InferCommandTests.decoder.decode(InferCommandTests.Document.self, from: expected.standardOutput)
        let b = try InferCommandTests.decoder.decode(InferCommandTests.Document.self, from: streamed.standardOutput)
        #expect(a.results.map(\.embedding) == b.results.map(\.embedding))
        #expect(a.results.map(\.lastHiddenState) == b.results.map(\.lastHiddenState))
        // A missing bucket is named as such, not as a missing file.
        let noBucket = try ProcessRunner.run(
            Executables.path("infer"), ["--source", "s3://nosuchbucket/p", "x"], environment: environment)
        #expect(noBucket.status != 0)
        #expect(
            noBucket.standardError.contains("GET s3://nosuchbucket/p/chunk_info.json failed: NoSuchBucket"),
            "\(noBucket.standardError)")
        let conflicting = try InferCommandTests.infer(["--source", "s3://b", "--chunks-dir", local.path, "x"])
        #expect(conflicting.status != 0 && conflicting.standardError.contains("--chunks-dir"))
    }
}
