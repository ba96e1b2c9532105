import Foundation
import StreamingWeights
import Testing

@Suite("S3 endpoints: given on purpose, so never replaced by AWS")
struct S3EndpointTests {
    @Test("http:// and https:// with a host and port are endpoints; anything else is an error naming the value")
    func validation() throws {
        for good in ["http://127.0.0.1:9000", "https://s3.example.com", "http://localhost:8333/", "http://[::1]:9000"] {
            #expect(
                try S3Endpoint.validated(good, origin: "--s3-endpoint")
                    == (good.hasSuffix("/") ? String(good.dropLast()) : good))
        }
        for bad in [
            "127.0.0.1:9000", "localhost:9000", "s3.example.com", "ftp://127.0.0.1:21", "http://", "http://host/bucket",
            "http://user:pw@host",
        ] {
            #expect(throws: S3ConfigurationError.invalidEndpoint(bad, origin: "AWS_ENDPOINT_URL")) {
                _ = try S3Endpoint.resolve(explicit: nil, environment: ["AWS_ENDPOINT_URL": bad])
            }
        }
        #expect(try S3Endpoint.resolve(explicit: nil, environment: [:]) == nil)
        #expect(
            try S3Endpoint.resolve(
                explicit: nil, environment: ["AWS_ENDPOINT_URL_S3": "http://a:1", "AWS_ENDPOINT_URL": "http://b:2"])
                == "http://a:1")
        // A configuration built by hand with a bad endpoint fails before sending, too.
        let s3 = S3Backend(
            bucket: "b", region: "us-east-1", endpoint: "localhost:9000",
            credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"))
        #expect(throws: S3ConfigurationError.invalidEndpoint("localhost:9000", origin: "the configuration")) {
            _ = try s3.presignedURL(for: "x")
        }
    }

    @Test(
        "chunker, weight-server and infer refuse an endpoint without http(s):// before making any connection",
        arguments: [
            (["--s3-endpoint", "127.0.0.1:PORT"], [String: String](), "'127.0.0.1:PORT' (from --s3-endpoint)"),
            ([], ["AWS_ENDPOINT_URL_S3": "localhost:PORT"], "'localhost:PORT' (from AWS_ENDPOINT_URL_S3)"),
            ([], ["AWS_ENDPOINT_URL": "127.0.0.1:PORT"], "'127.0.0.1:PORT' (from AWS_ENDPOINT_URL)"),
            (["--s3-endpoint", "ftp://127.0.0.1:PORT"], [:], "'ftp://127.0.0.1:PORT' (from --s3-endpoint)"),
        ])
    func noRequestLeaves(arguments: [String], variables: [String: String], named: String) throws {
        // The endpoint's port, and every proxy a process would use: any connection at all, to
        // the endpoint or to AWS, lands here.
        let recorder = try ConnectionRecorder()
        let port = String(recorder.port)
        var environment = recorder.proxyEnvironment
        environment["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE"
        environment["AWS_SECRET_ACCESS_KEY"] = "secret"
        environment["HOME"] = "/nonexistent"
        for (name, value) in variables { environment[name] = value.replacingOccurrences(of: "PORT", with: port) }
        let options = arguments.map { $0.replacingOccurrences(of: "PORT", with: port) }
        let runs: [(String, [String])] = [
            ("chunker", [ModelChunkerTests.tiny, "--s3", "--s3-bucket", "models"] + options),
            ("chunker", ["verify", "--s3", "--s3-bucket", "models"] + options),
            ("weight-server", ["--s3", "--s3-bucket", "models", "--port", "0"] + options),
            ("infer", ["--source", "s3://models/bert-tiny"] + options + ["x"]),
        ]
        for (tool, toolArguments) in runs {
            let result = try ProcessRunner.run(Executables.path(tool), toolArguments, environment: environment)
            #expect(result.status != 0, "\(tool)")
            #expect(
                result.standardError.contains(
                    "the S3 endpoint \(named.replacingOccurrences(of: "PORT", with: port)) is not http://HOST[:PORT] or https://HOST[:PORT]"
                ), "\(tool): \(result.standardError)")
        }
        #expect(recorder.connections.isEmpty, "\(recorder.connections)")
    }
}
