import Foundation
import StreamingWeights
import Testing

/// A real S3 server on 127.0.0.1 started by streaming_weights_testing.s3_servers (Tests/Support), with its
/// access keys.
final class S3TestServer: @unchecked Sendable {
    struct Details: Decodable {
        let endpoint: String
        let region: String
        let accessKey: String
        let secretKey: String
        let limitedAccessKey: String?
        let limitedSecretKey: String?
        let bucket: String
        let deniedBucket: String?
    }

    let process: BackgroundProcess
    let details: Details

    init(_ kind: String) throws {
        process = try BackgroundProcess(Repository.python, ["-m", "streaming_weights_testing.s3_servers", kind])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        details = try decoder.decode(Details.self, from: Data(try process.firstLine().utf8))
    }

    func backend(prefix: String = "", secret: String? = nil, accessKey: String? = nil, bucket: String? = nil)
        -> S3Backend
    {
        var configuration = S3Backend.Configuration(
            bucket: bucket ?? details.bucket,
            prefix: prefix,
            region: details.region,
            endpoint: details.endpoint,
            credentials: AWSCredentials(
                accessKeyID: accessKey ?? details.accessKey, secretAccessKey: secret ?? details.secretKey)
        )
        configuration.partSize = 5 << 20
        configuration.multipartThreshold = 8 << 20
        configuration.maximumAttempts = 2
        return S3Backend(configuration: configuration)
    }
}

@Suite("S3 against moto with signatures enforced", .serialized)
struct S3BackendTests {
    static let server = Result { try S3TestServer("moto") }

    @Test("A chunk directory uploads through the chunker, verifies, and reads back byte for byte")
    func chunkRoundTrip() async throws {
        let server = try Self.server.get()
        let s3 = server.backend(prefix: "models/bert-tiny")
        let manifest = try await ModelChunker(modelName: Repository.path("Fixtures/bert-tiny"), storage: s3)
            .chunkModel()
        #expect(try await ChunkVerifier(storage: s3).verify().isEmpty)
        let local = try TemporaryDirectory()
        _ = try await ModelChunker(modelName: Repository.path("Fixtures/bert-tiny"), outputDirectory: local.path)
            .chunkModel()
        for chunk in manifest.chunks.values {
            let remote = try await s3.read(chunk.file).withUnsafeBytes { Data($0) }
            #expect(remote == (try Data(contentsOf: URL(fileURLWithPath: local.file(chunk.file)))), "\(chunk.file)")
        }
        #expect(try await s3.list(prefix: "layer_") == ["layer_0.safetensors", "layer_1.safetensors"])
        let range = try await s3.read("embeddings.safetensors", range: 1000..<1100)
        let whole = try Data(contentsOf: URL(fileURLWithPath: local.file("embeddings.safetensors")))
        #expect(Data(range) == whole[1000..<1100])
    }

    @Test("A 50 MB object goes up in parts and comes back whole, read in parallel ranges")
    func multipart() async throws {
        let s3 = try Self.server.get().backend(prefix: "large")
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(50 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
        try await s3.write(bytes, to: "blob.bin")
        #expect(try await s3.size(of: "blob.bin") == bytes.count)
        let back = try await s3.read("blob.bin")
        #expect(back.withUnsafeBytes { Digest.sha256($0) } == Digest.sha256(bytes))
        try await s3.delete("blob.bin")
        #expect(try await s3.size(of: "blob.bin") == nil)
    }

    @Test("Listing more than 1,000 keys follows the continuation tokens")
    func pagination() async throws {
        let s3 = try Self.server.get().backend(prefix: "many")
        let keys = (0..<1005).map { String(format: "k%04d", $0) }
        for key in keys { try await s3.write([1], to: key) }
        #expect(try await s3.list(prefix: "") == keys)
    }

    @Test("A wrong secret, an unknown key, a missing bucket and a denied bucket each give their own clear error")
    func errors() async throws {
        let server = try Self.server.get()
        let cases: [(S3Backend, String, String)] = [
            (
                server.backend(secret: "wrong-secret"), "SignatureDoesNotMatch",
                "check the secret key, and that this machine's clock is right"
            ),
            (server.backend(accessKey: "AKIANOSUCHKEY0000000"), "InvalidAccessKeyId", "check the access key id"),
            (server.backend(bucket: "no-such-bucket"), "NoSuchBucket", "check the bucket name and the region"),
            (
                server.backend(
                    secret: server.details.limitedSecretKey, accessKey: server.details.limitedAccessKey,
                    bucket: server.details.deniedBucket),
                "AccessDenied", "not allowed to do this"
            ),
        ]
        for (backend, code, advice) in cases {
            await #expect {
                try await backend.write([1, 2, 3], to: "x")
            } throws: { error in
                guard let error = error as? S3Error else { return false }
                return error.code == code && "\(error)".contains(advice) && "\(error)".hasPrefix("PUT s3://")
            }
        }
        await #expect(throws: StorageError.notFound(key: "missing", location: server.backend().location)) {
            _ = try await server.backend().read("missing")
        }
    }

    @Test("chunker --s3 with a wrong secret exits non-zero naming SignatureDoesNotMatch")
    func chunkerWithWrongSecret() throws {
        let details = try Self.server.get().details
        let result = try ProcessRunner.run(
            "/usr/bin/env",
            [
                "AWS_ACCESS_KEY_ID=\(details.accessKey)", "AWS_SECRET_ACCESS_KEY=wrong", "HF_HUB_OFFLINE=1",
                Executables.path("chunker"), Repository.path("Fixtures/bert-tiny"), "--s3", "--s3-bucket",
                details.bucket,
                "--s3-endpoint", details.endpoint, "--s3-region", details.region,
            ]
        )
        #expect(result.status != 0)
        #expect(result.standardError.contains("SignatureDoesNotMatch"), "\(result.standardError)")
    }
}

@Suite("weight-server --s3 against moto with signatures enforced")
struct WeightServerS3Tests {
    @Test("weight-server --s3 serves a chunk set from a bucket prefix; a streamed forward pass equals the local one")
    func servesFromBucket() async throws {
        let server = try S3TestServer("moto")
        let details = server.details
        let prefix = "served/bert-tiny"
        _ = try await ModelChunker(modelName: ModelChunkerTests.tiny, storage: server.backend(prefix: prefix))
            .chunkModel()
        let process = try BackgroundProcess(
            Executables.path("weight-server"),
            [
                "--s3", "--s3-bucket", details.bucket, "--s3-prefix", prefix, "--s3-endpoint", details.endpoint,
                "--s3-region", details.region, "--port", "0",
            ],
            environment: [
                "AWS_ACCESS_KEY_ID": details.accessKey, "AWS_SECRET_ACCESS_KEY": details.secretKey,
                "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
            ])
        let url = try process.firstLine()
        let local = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: local.path)
        let (batch, expected) = try await StreamingBertModelTests.expected(local.path)
        let streamed = try await StreamingBertModel(serverURL: url, cacheSize: 1)
        #expect(try await streamed.forward(batch).lastHiddenState == expected.lastHiddenState)
    }
}

extension WeightServerS3Tests {
    @Test(
        "weight-server --s3 and infer --source s3:// take credentials, region and endpoint the same way, and refuse the same bad profile"
    )
    func sameSettingsForEveryTool() async throws {
        let server = try S3TestServer("moto")
        let details = server.details
        let prefix = "shared-options/bert-tiny"
        _ = try await ModelChunker(modelName: ModelChunkerTests.tiny, storage: server.backend(prefix: prefix))
            .chunkModel()
        // Credentials from a named profile, the region from its config, the endpoint from the
        // environment: nothing on either command line but the profile's name.
        let files = try TemporaryDirectory()
        try "[streaming]\naws_access_key_id = \(details.accessKey)\naws_secret_access_key = \(details.secretKey)\n"
            .write(toFile: files.file("credentials"), atomically: true, encoding: .utf8)
        try "[profile streaming]\nregion = \(details.region)\n"
            .write(toFile: files.file("config"), atomically: true, encoding: .utf8)
        let environment = [
            "AWS_SHARED_CREDENTIALS_FILE": files.file("credentials"), "AWS_CONFIG_FILE": files.file("config"),
            "AWS_ENDPOINT_URL_S3": details.endpoint, "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent",
        ]
        let weightServer = try BackgroundProcess(
            Executables.path("weight-server"),
            ["--s3", "--s3-bucket", details.bucket, "--s3-prefix", prefix, "--s3-profile", "streaming", "--port", "0"],
            environment: environment)
        let url = try weightServer.firstLine()
        #expect(url.hasPrefix("ws://"))
        let texts = ["Hello, world!", "The same settings."]
        let throughServer = try ProcessRunner.run(Executables.path("infer"), ["--server", url, "--json", "--"] + texts)
        let direct = try ProcessRunner.run(
            Executables.path("infer"),
            ["--source", "s3://\(details.bucket)/\(prefix)", "--s3-profile", "streaming", "--json", "--"] + texts,
            environment: environment)
        #expect(direct.status == 0, "\(direct.standardError)")
        let a = try InferCommandTests.decoder.decode(
            InferCommandTests.Document.self, from: throughServer.standardOutput)
        let b = try InferCommandTests.decoder.decode(InferCommandTests.Document.self, from: direct.standardOutput)
        #expect(a.results.map(\.embedding) == b.results.map(\.embedding))
        // The same unknown profile: the same sentence from both tools.
        let message = "the AWS profile 'nobody' (from --s3-profile) does not exist"
        let refusedServer = try ProcessRunner.run(
            Executables.path("weight-server"),
            ["--s3", "--s3-bucket", details.bucket, "--s3-prefix", prefix, "--s3-profile", "nobody", "--port", "0"],
            environment: environment)
        let refusedInfer = try ProcessRunner.run(
            Executables.path("infer"),
            ["--source", "s3://\(details.bucket)/\(prefix)", "--s3-profile", "nobody", "x"], environment: environment)
        for result in [refusedServer, refusedInfer] {
            #expect(result.status != 0 && result.standardError.contains(message), "\(result.standardError)")
        }
    }
}

@Suite("S3 against SeaweedFS", .serialized)
struct SeaweedFSTests {
    static let server = Result { try S3TestServer("seaweedfs") }

    @Test("A chunk directory uploads and verifies, and a 20 MB object round-trips in parts")
    func roundTrip() async throws {
        let s3 = try Self.server.get().backend(prefix: "models/bert-tiny")
        _ = try await ModelChunker(modelName: Repository.path("Fixtures/bert-tiny"), storage: s3, compress: true)
            .chunkModel()
        #expect(try await ChunkVerifier(storage: s3).verify().isEmpty)
        let bytes = (0..<(20 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        try await s3.write(bytes, to: "blob.bin")
        #expect(try await s3.read("blob.bin").withUnsafeBytes { Digest.sha256($0) } == Digest.sha256(bytes))
        #expect(try await s3.read("blob.bin", range: 12_345..<12_400) == Array(bytes[12_345..<12_400]))
    }

    @Test("A presigned GET URL fetches the object with no other credentials")
    func presigned() async throws {
        let s3 = try Self.server.get().backend(prefix: "presigned")
        try await s3.write(Array("hello, presigned".utf8), to: "greeting.txt")
        let url = try s3.presignedURL(for: "greeting.txt", expires: 300)
        let (response, body) = try HTTPClient.data(HTTPRequest(url: url))
        #expect(response.status == 200 && body == Array("hello, presigned".utf8))
    }

    @Test("A clock 20 minutes off is refused with RequestTimeTooSkewed and advice to fix the clock")
    func skewedClock() async throws {
        let server = try Self.server.get()
        var configuration = server.backend().configuration
        configuration.clock = { Date().addingTimeInterval(20 * 60) }
        let skewed = S3Backend(configuration: configuration)
        await #expect {
            try await skewed.write([1], to: "skew")
        } throws: { error in
            (error as? S3Error)?.code == "RequestTimeTooSkewed" && "\(error)".contains("fix the clock")
        }
    }
}

@Suite("S3 faults through a fault-injecting proxy in front of moto", .serialized)
struct S3FaultTests {
    static let server = S3BackendTests.server

    /// A backend whose endpoint is a streaming_weights_testing.fault_proxy in front of the moto server.
    static func throughProxy(_ faults: [String], configure: (inout S3Backend.Configuration) -> Void = { _ in }) throws
        -> (BackgroundProcess, S3Backend)
    {
        let server = try Self.server.get()
        let proxy = try BackgroundProcess(
            Repository.python,
            ["-m", "streaming_weights_testing.fault_proxy", "--upstream", server.details.endpoint, "--port", "0"]
                + faults)
        let port = try proxy.firstLine()
        var configuration = server.backend(prefix: "faults").configuration
        configuration.endpoint = "http://127.0.0.1:\(port)"
        configuration.maximumAttempts = 5
        configure(&configuration)
        return (proxy, S3Backend(configuration: configuration))
    }

    static let object = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }

    static func putObject() async throws {
        try await server.get().backend(prefix: "faults").write(object, to: "object.bin")
    }

    @Test("503 SlowDown twice, then success: the read is retried and succeeds")
    func slowDown() async throws {
        try await Self.putObject()
        let (proxy, s3) = try Self.throughProxy(["--match", "object.bin", "--fail-status", "503", "--fail-count", "2"])
        let bytes = try await s3.read("object.bin", range: 0..<Self.object.count)
        #expect(bytes == Self.object)
        _ = proxy
    }

    @Test("A connection reset part way through a download is resumed from the right byte")
    func resetMidDownload() async throws {
        try await Self.putObject()
        let (proxy, s3) = try Self.throughProxy([
            "--match", "object.bin", "--reset-after", "1000000", "--reset-count", "2",
        ])
        let bytes = try await s3.read("object.bin")
        #expect(bytes.withUnsafeBytes { Array($0) } == Self.object)
        _ = proxy
    }

    @Test("A server that never answers fails within the configured bound, with an error naming the request")
    func neverAnswers() async throws {
        let (proxy, s3) = try Self.throughProxy(["--hang"]) { configuration in
            configuration.stallTimeout = 1
            configuration.maximumAttempts = 2
            configuration.retryBudget = 5
        }
        let started = Date()
        await #expect(throws: HTTPError.self) { _ = try await s3.size(of: "object.bin") }
        #expect(Date().timeIntervalSince(started) < 10)
        _ = proxy
    }
}

@Suite("Credentials from the container and instance metadata services", .serialized)
struct MetadataCredentialTests {
    static func metadataServer(expiresIn: Int = 3600) throws -> (BackgroundProcess, String, S3TestServer) {
        let moto = try S3BackendTests.server.get()
        let server = try BackgroundProcess(
            Repository.python,
            [
                "-m", "streaming_weights_testing.metadata_server", "--access-key", moto.details.accessKey,
                "--secret-key", moto.details.secretKey, "--expires-in", String(expiresIn),
            ])
        return (server, "http://127.0.0.1:\(try server.firstLine())", moto)
    }

    static func backend(_ moto: S3TestServer, _ credentials: RefreshingCredentials) throws -> S3Backend {
        var configuration = moto.backend(prefix: "metadata").configuration
        configuration.credentials = try credentials.current()
        configuration.refreshingCredentials = credentials
        return S3Backend(configuration: configuration)
    }

    @Test("The container endpoint's credentials, with its authorization token, reach S3")
    func container() async throws {
        let (server, endpoint, moto) = try Self.metadataServer()
        let environment = [
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint + "/container-credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-secret", "HOME": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        let credentials = try AWSCredentialChain(environment: environment).credentials()
        #expect(credentials.accessKeyID == moto.details.accessKey && credentials.expiration != nil)
        #expect(credentials.source.hasPrefix("the container credentials endpoint"))
        try await Self.backend(moto, try AWSCredentialChain(environment: environment).refreshingCredentials()).write(
            [1, 2], to: "c")
        var wrong = environment
        wrong["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong"
        #expect(throws: AWSCredentialError.self) { _ = try AWSCredentialChain(environment: wrong).credentials() }
        _ = server
    }

    @Test("IMDSv2: a session token, the role, then the role's credentials, which reach S3")
    func instance() async throws {
        let (server, endpoint, moto) = try Self.metadataServer()
        let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint, "HOME": "/nonexistent"]
        let credentials = try AWSCredentialChain(environment: environment).credentials()
        #expect(credentials.accessKeyID == moto.details.accessKey)
        #expect(credentials.source == "the instance metadata service (role test-role)")
        try await Self.backend(moto, try AWSCredentialChain(environment: environment).refreshingCredentials()).write(
            [3], to: "i")
        _ = server
    }

    @Test("Credentials about to expire are fetched again before a request")
    func refresh() async throws {
        // They expire in 60 s: inside the 5-minute margin, so every request renews them.
        let (server, endpoint, moto) = try Self.metadataServer(expiresIn: 60)
        let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint, "HOME": "/nonexistent"]
        let s3 = try Self.backend(moto, try AWSCredentialChain(environment: environment).refreshingCredentials())
        try await s3.write([1], to: "r1")
        try await s3.write([2], to: "r2")
        let (_, stats) = try HTTPClient.data(HTTPRequest(url: endpoint + "/stats"))
        let served = try #require(try JSONSerialization.jsonObject(with: Data(stats)) as? [String: Int])[
            "credentials_served"]
        #expect(served ?? 0 >= 3)
        _ = server
    }
}
