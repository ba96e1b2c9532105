import Foundation
import StreamingWeights
import Testing

@Suite("chunker, the command")
struct ChunkerCommandTests {
    static func chunker(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run("/usr/bin/env", ["HF_HUB_OFFLINE=1", Executables.path("chunker")] + arguments)
    }

    /// A model of many small layers (24 of hidden 256, BERT's vocabulary: ~110 MB) chunked as it
    /// is and converted to float16: each writer converts its component when it writes it, so
    /// converting adds about a converted chunk per writer (two) to the plain run's peak; the bound
    /// allows twice that for the runs' variation (release build, measured: +31 MiB over 78), where
    /// the whole model converted up front held all of it (+101 MiB over 82).
    @Test(
        "Converting a model of many layers to float16 holds a few chunks more than not converting it, not the model",
        .enabled(if: isReleaseBuild, "a release build's memory: sanitizers hold freed memory back"))
    func conversionMemoryIsBounded() throws {
        let work = try TemporaryDirectory()
        let model = work.file("model")
        let generated = try ProcessRunner.run(
            Repository.python,
            [Repository.path("Fixtures/generators/make_synthetic_bert.py"), model, "--layers", "24", "--hidden", "256"])
        #expect(generated.status == 0, "\(generated.standardError)")
        /// The chunker's peak RSS in MiB, and its manifest.
        func chunk(_ options: [String], into name: String) throws -> (Double, ChunkManifest) {
            let result = try ProcessRunner.run(
                "/usr/bin/time",
                ["-f", "peak %M", Executables.path("chunker"), model, "--output-dir", work.file(name)] + options)
            #expect(result.status == 0, "\(result.standardError)")
            let line = try #require(result.standardError.split(separator: "\n").last { $0.hasPrefix("peak ") })
            let manifest = try ChunkManifest(
                json: Array(try Data(contentsOf: URL(fileURLWithPath: work.file("\(name)/chunk_info.json")))),
                source: "chunk_info.json")
            return (try #require(Double(line.dropFirst(5))) / 1024, manifest)
        }
        let (plainPeak, _) = try chunk([], into: "plain")
        let (convertedPeak, manifest) = try chunk(["--dtype", "float16"], into: "float16")
        let largest = Double(manifest.chunks.values.map(\.size).max() ?? 0) / 1_048_576
        #expect(manifest.chunks.count == 26 && manifest.dtype == "float16")
        #expect(
            convertedPeak <= plainPeak + 4 * largest,
            "converting: peak \(convertedPeak) MiB; plain: \(plainPeak) MiB; largest converted chunk \(largest) MiB")
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
        // The manifest names the model, not the path it was found at.
        let manifest = try ChunkManifest(
            json: [UInt8](try Data(contentsOf: URL(fileURLWithPath: output.file("chunks/chunk_info.json")))),
            source: "chunk_info.json")
        #expect(manifest.modelName == "bert-tiny")
        let byPath = try Self.chunker(
            [Repository.path("Fixtures") + "/../Fixtures/bert-tiny/", "--output-dir", output.file("by-path")])
        #expect(byPath.status == 0, "\(byPath.standardError)")
        let named = try ChunkManifest(
            json: [UInt8](try Data(contentsOf: URL(fileURLWithPath: output.file("by-path/chunk_info.json")))),
            source: "chunk_info.json")
        #expect(named.modelName == "bert-tiny")
    }

    @Test("--verbose logs each file once; --help shows the chunking options")
    func verboseAndHelp() throws {
        let output = try TemporaryDirectory()
        let result = try Self.chunker([ModelChunkerTests.tiny, "--output-dir", output.file("chunks"), "--verbose"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardError.split(separator: "\n")
        for file in ["layer_0.safetensors", "config.json", "vocab.txt"] {
            #expect(lines.filter { $0.contains("wrote \(file)") }.count == 1, "\(result.standardError)")
        }
        #expect(lines.allSatisfy { $0.hasPrefix("info: ") }, "\(result.standardError)")
        for arguments in [["--help"], ["-h"], ["help"]] {
            let help = try Self.chunker(arguments)
            #expect(help.status == 0)
            for option in [
                "--output-dir", "--compress", "--dtype", "--weight-layout", "--overwrite", "--s3-bucket",
                "chunker verify",
            ] {
                #expect(help.outputText.contains(option), "\(arguments): \(option)")
            }
        }
    }

    @Test("Another model's chunk set or other files stop the chunker; --overwrite replaces them and removes the rest")
    func usedOutputDirectory() async throws {
        let output = try TemporaryDirectory()
        let chunks = output.file("chunks")
        #expect(try Self.chunker([ModelChunkerTests.tiny, "--output-dir", chunks]).status == 0)
        // Another model (no tokenizer_config.json, special_tokens_map.json of its own).
        let other = Repository.path("Fixtures/checkpoints/tiny-bert-prefixed")
        let refused = try Self.chunker([other, "--output-dir", chunks])
        #expect(refused.status != 0)
        #expect(
            refused.standardError.contains(
                "directory '\(chunks)' is not empty: it holds a chunk set of bert-tiny (9 files: "),
            "\(refused.standardError)")
        #expect(refused.standardError.contains("give --overwrite to replace them"))
        #expect(try Self.chunker(["verify", chunks]).status == 0, "the refused run changed nothing")
        let replaced = try Self.chunker([other, "--output-dir", chunks, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.standardError)")
        let files = try FileManager.default.contentsOfDirectory(atPath: chunks).sorted()
        #expect(
            files == [
                "chunk_info.json", "config.json", "embeddings.safetensors", "layer_0.safetensors",
                "layer_1.safetensors", "pooler.safetensors", "vocab.txt",
            ])
        #expect(try Self.chunker(["verify", chunks]).status == 0)
        // The same model again, now compressed: allowed, and the uncompressed chunks go.
        let again = try Self.chunker([other, "--output-dir", chunks, "--compress"])
        #expect(again.status == 0, "\(again.standardError)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: chunks).filter { $0.hasSuffix(".safetensors") }.isEmpty)
        // A directory of other things is never written into without --overwrite.
        let unrelated = output.file("unrelated")
        try FileManager.default.createDirectory(atPath: unrelated, withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: unrelated + "/notes.txt"))
        let stopped = try Self.chunker([ModelChunkerTests.tiny, "--output-dir", unrelated])
        #expect(stopped.status != 0 && stopped.standardError.contains("files that are not part of a chunk set"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: unrelated) == ["notes.txt"])
    }

    @Test("verify reports a file the manifest does not list")
    func verifyUnlistedFile() async throws {
        let output = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: output.path)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: output.file("tokenizer.json")))
        let result = try Self.chunker(["verify", output.path])
        #expect(result.status == 1)
        #expect(
            result.standardError.contains(
                "error: 'tokenizer.json' in directory '\(output.path)' is not listed in the manifest"),
            "\(result.standardError)")
    }

    @Test(
        "--weight-layout panels32 writes a chunk set chunker verify passes; an unknown layout, or bfloat16 panels, is refused by name"
    )
    func weightLayout() throws {
        let output = try TemporaryDirectory()
        let chunks = output.file("chunks")
        let result = try Self.chunker([ModelChunkerTests.tiny, "--output-dir", chunks, "--weight-layout", "panels32"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            try String(contentsOfFile: chunks + "/chunk_info.json", encoding: .utf8).contains(
                #""weight_layout" : "panels32""#))
        #expect(try Self.chunker(["verify", chunks]).status == 0)
        let unknown = try Self.chunker([
            ModelChunkerTests.tiny, "--output-dir", output.file("a"), "--weight-layout", "columns64",
        ])
        #expect(unknown.status != 0 && unknown.standardError.contains("columns64"), "\(unknown.standardError)")
        #expect(unknown.standardError.contains("pytorch") && unknown.standardError.contains("panels32"))
        let brain = try Self.chunker([
            ModelChunkerTests.tiny, "--output-dir", output.file("b"), "--weight-layout", "panels32", "--dtype",
            "bfloat16",
        ])
        #expect(
            brain.status != 0
                && brain.standardError.contains(
                    "the weight layout panels32 holds float32 or float16 panels, not bfloat16"),
            "\(brain.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output.file("b")))
    }

    @Test("A failed run leaves no output directory behind", arguments: ["nowhere-model", "checkpoints/malicious"])
    func failedRunCleansUp(model: String) throws {
        let output = try TemporaryDirectory()
        let result = try Self.chunker([Repository.path("Fixtures/") + model, "--output-dir", output.file("new/chunks")])
        #expect(result.status != 0)
        #expect(!FileManager.default.fileExists(atPath: output.file("new")))
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
                "The value 'int8' is invalid for '--dtype <dtype>'. Please provide one of 'float32', 'float16' or 'bfloat16'."
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
