import Foundation
import StreamingWeights
import Testing

@Suite("chunker, the command")
struct ChunkerCommandTests {
    static func chunker(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run("/usr/bin/env", ["HF_HUB_OFFLINE=1", Executables.path("chunker")] + arguments)
    }

    @Test("chunker bert-tiny finds the fixture by name and prints the Python tool's summary")
    func summary() throws {
        let output = try TemporaryDirectory()
        let result = try ProcessRunner.run(
            "/bin/sh",
            [
                "-c",
                "cd '\(Repository.root.path)' && HF_HUB_OFFLINE=1 '\(Executables.path("chunker"))' bert-tiny --output-dir '\(output.file("chunks"))' --compress",
            ]
        )
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.outputText == """
                Model chunked into 4 pieces
                Total size: 15.55 MB
                Manifest: \(output.file("chunks"))/chunk_info.json

                """
        )
        // Not a terminal: one plain line per file written, on standard error.
        #expect(result.standardError.split(separator: "\n").filter { $0.hasPrefix("wrote ") }.count == 8)
    }

    @Test("chunker verify passes an intact directory and names each damaged file, exiting 1")
    func verify() async throws {
        let output = try TemporaryDirectory()
        _ = try await ModelChunker(modelName: Repository.path("Fixtures/bert-tiny"), outputDirectory: output.path)
            .chunkModel()
        let good = try Self.chunker(["verify", output.path])
        #expect(good.status == 0 && good.outputText == "\(output.path): every file matches chunk_info.json\n")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: output.file("config.json")))
        let bad = try Self.chunker(["verify", output.path])
        #expect(bad.status == 1)
        #expect(bad.standardError.contains("error: 'config.json' is 2 bytes, but the manifest says 667"))
    }

    @Test(
        "Bad invocations fail with a clear sentence and a non-zero status",
        arguments: [
            (["nowhere-model", "--output-dir", "/tmp/x"], "cannot find model 'nowhere-model'; tried:"),
            (["bert-tiny"], "Give --output-dir DIR, or --s3 with --s3-bucket."),
            (
                ["bert-tiny", "--output-dir", "/tmp/x", "--dtype", "int8"],
                "--dtype must be float32, float16 or bfloat16, not 'int8'."
            ),
            (["bert-tiny", "--s3"], "--s3 needs --s3-bucket."),
            (["verify", "/nonexistent/chunks"], "cannot use directory '/nonexistent/chunks': it does not exist"),
        ])
    func badInvocations(arguments: [String], message: String) throws {
        let result = try Self.chunker(arguments)
        #expect(result.status != 0)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }
}
