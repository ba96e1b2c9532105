import Foundation
import StreamingWeights
import Testing

/// What a user of the `weight-server` command sees when its chunk set or TLS is wrong.
///
/// Each case starts server processes and runs `infer`; they are kept out of the
/// ThreadSanitizer run (scripts/sanitize), where a debug build of every process would take
/// minutes and crowd the concurrency tests' time bounds.
@Suite("weight-server, the command")
struct WeightServerCommandTests {
    @Test(
        "A chunk missing or shorter than the manifest says stops the server at start, naming it; --verify-on-start also checks hashes",
        arguments: [
            ("missing", [String](), "'layer_1.safetensors' is listed in the manifest but missing from directory"),
            ("short", [], "'layer_0.safetensors' is 1000 bytes, but the manifest says"),
            ("flipped", [], nil),
            ("flipped", ["--verify-on-start"], "'layer_0.safetensors' fails its checksum: the manifest says SHA-256"),
        ])
    func startupChecks(damage: String, arguments: [String], message: String?) async throws {
        let directory = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: directory.path)
        let layer0 = URL(fileURLWithPath: directory.file("layer_0.safetensors"))
        switch damage {
        case "missing": try FileManager.default.removeItem(atPath: directory.file("layer_1.safetensors"))
        case "short": try Data(try Data(contentsOf: layer0).prefix(1000)).write(to: layer0)
        default:
            var bytes = [UInt8](try Data(contentsOf: layer0))
            bytes[bytes.count - 10] ^= 1
            try Data(bytes).write(to: layer0)
        }
        let server = try BackgroundProcess(
            Executables.path("weight-server"), ["--chunks-dir", directory.path, "--port", "0"] + arguments,
            captureStandardError: true)
        let line = try server.firstLine()
        if let message {
            #expect(line.isEmpty, "the server started: \(line)")
            server.process.waitUntilExit()
            #expect(server.process.terminationStatus != 0)
            #expect(server.standardError.contains(message), "\(server.standardError)")
        } else {
            // Sizes are right: without --verify-on-start the flipped byte is for clients to catch.
            #expect(line.hasPrefix("ws://127.0.0.1:"))
        }
    }

    @Test(
        "TLS that cannot work is named at once, not retried: an untrusted or misnamed certificate, TLS on one side only"
    )
    func tlsFailures() async throws {
        let certificates = try TemporaryDirectory()
        let (certificate, key) = try TLSTests.certificate(certificates)
        let (other, otherKey) = try TLSTests.certificate(
            certificates, host: "other.example", names: "DNS:other.example")
        let secure = try await ServedChunks(arguments: ["--tls-cert", certificate, "--tls-key", key])
        let misnamed = try await ServedChunks(arguments: ["--tls-cert", other, "--tls-key", otherKey])
        let plain = try await ServedChunks()
        let securePort = secure.url.split(separator: ":").last ?? ""
        let misnamedPort = misnamed.url.split(separator: ":").last ?? ""
        let plainPort = plain.url.split(separator: ":").last ?? ""
        let cases: [([String], String)] = [
            (
                ["--source", "wss://localhost:\(securePort)"],
                "cannot connect to wss://localhost:\(securePort): the TLS certificate of localhost was rejected: self-signed certificate; give the CA that signed it with --ca-file, or (self-signed test servers only) --insecure"
            ),
            (
                ["--source", "wss://localhost:\(misnamedPort)", "--ca-file", other],
                "cannot connect to wss://localhost:\(misnamedPort): the TLS certificate of localhost was rejected: hostname mismatch; connect by the name the certificate was issued for, or (test servers only) give --insecure"
            ),
            (
                ["--source", "ws://localhost:\(securePort)"],
                "cannot connect to ws://localhost:\(securePort): the server speaks TLS on this port; connect with wss://localhost:\(securePort)"
            ),
            (
                ["--source", "wss://localhost:\(plainPort)"],
                "cannot connect to wss://localhost:\(plainPort): the server does not speak TLS on this port; connect with ws://localhost:\(plainPort)"
            ),
        ]
        for (arguments, message) in cases {
            let result = try InferCommandTests.infer(arguments + ["--verbose", "x"])
            #expect(result.status != 0)
            #expect(result.standardError.contains("Error: \(message)\n"), "\(result.standardError)")
            #expect(!result.standardError.contains("trying again"), "\(result.standardError)")
        }
        let trusted = try InferCommandTests.infer([
            "--source", "wss://localhost:\(securePort)", "--ca-file", certificate, "x",
        ])
        #expect(trusted.status == 0, "\(trusted.standardError)")
    }
}
