import Foundation
import StreamingWeights
import Testing

@Suite("Finding and downloading models")
struct ModelSourceTests {
    static let tiny = Repository.path("Fixtures/bert-tiny")

    /// A local copy of the hub's HTTP layout serving bert-tiny as `prajjwal1/bert-tiny`.
    final class HubMirror {
        let root: TemporaryDirectory
        let server: BackgroundProcess
        let endpoint: String

        init(token: String? = nil, failOnceAfter: Int? = nil) throws {
            root = try TemporaryDirectory()
            let repository = root.file("prajjwal1/bert-tiny")
            try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
            for name in [
                "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
            ] {
                try FileManager.default.copyItem(
                    atPath: ModelSourceTests.tiny + "/" + name, toPath: repository + "/" + name)
            }
            // sentence-transformers' settings, in a folder of their own as on the hub.
            try FileManager.default.createDirectory(
                atPath: repository + "/1_Pooling", withIntermediateDirectories: true)
            for (name, bytes) in SentenceEmbeddingTests.files(modes: ["pooling_mode_mean_tokens": true]) {
                try Data(bytes).write(to: URL(fileURLWithPath: repository + "/" + name))
            }
            var arguments = [
                "-m", "streaming_weights_testing.hub_mirror", "--root", root.path, "--port", "0", "--redirect-over",
                "100000",
            ]
            if let token { arguments += ["--token", token] }
            if let failOnceAfter { arguments += ["--fail-once-after", String(failOnceAfter)] }
            server = try BackgroundProcess(Repository.python, arguments)
            let port = try server.firstLine().trimmingCharacters(in: .whitespaces)
            guard Int(port) != nil else {
                throw ChunkingError.incompleteModel("the hub mirror printed \(port.debugDescription)")
            }
            endpoint = "http://127.0.0.1:\(port)"
        }
    }

    @Test("A name under STREAMING_WEIGHTS_MODELS, then ./Fixtures, resolves without the network")
    func modelsFolders() async throws {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.file("my-bert"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: folder.file("my-bert/config.json"))
        let environment = ["STREAMING_WEIGHTS_MODELS": "/nonexistent:" + folder.path, "HF_HUB_OFFLINE": "1"]
        let mine = try await ModelSource.resolve(
            "my-bert", environment: environment, currentDirectory: Repository.root.path)
        #expect(mine.directory == folder.file("my-bert") && mine.origin == .modelsFolder(folder.path))
        let fixture = try await ModelSource.resolve(
            "bert-tiny", environment: environment, currentDirectory: Repository.root.path)
        #expect(fixture.directory == Repository.path("Fixtures/bert-tiny"))
    }

    @Test("A model in the Hugging Face cache layout resolves through refs/main, offline")
    func huggingFaceCache() async throws {
        let cache = try TemporaryDirectory()
        let commit = String(repeating: "ab", count: 20)
        let snapshot = cache.file("models--prajjwal1--bert-tiny/snapshots/\(commit)")
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: cache.file("models--prajjwal1--bert-tiny/refs"), withIntermediateDirectories: true)
        try commit.write(
            toFile: cache.file("models--prajjwal1--bert-tiny/refs/main"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.tiny + "/config.json", toPath: snapshot + "/config.json")
        for environment in [
            ["HF_HUB_CACHE": cache.path], ["HF_HOME": (cache.path as NSString).deletingLastPathComponent],
        ] {
            guard environment["HF_HOME"] == nil else { continue }
            let source = try await ModelSource.resolve("prajjwal1/bert-tiny", offline: true, environment: environment)
            #expect(source.directory == snapshot && source.origin == .huggingFaceCache(commit: commit))
        }
    }

    @Test("A download from the hub writes the cache huggingface_hub reads offline, and chunks like the local model")
    func downloadIntoTheCache() async throws {
        let mirror = try HubMirror(token: "secret-token")
        let cache = try TemporaryDirectory()
        let environment = ["HF_ENDPOINT": mirror.endpoint, "HF_HUB_CACHE": cache.path, "HF_TOKEN": "secret-token"]
        let source = try await ModelSource.resolve(
            "prajjwal1/bert-tiny", environment: environment, currentDirectory: "/")
        guard case .downloaded(let commit) = source.origin else {
            Issue.record("not downloaded: \(source.origin)")
            return
        }
        #expect(source.directory == cache.file("models--prajjwal1--bert-tiny/snapshots/\(commit)"))
        let reference = try String(
            contentsOfFile: cache.file("models--prajjwal1--bert-tiny/refs/main"), encoding: .utf8)
        #expect(reference == commit)
        // The sentence-transformers files come too, so the model pools as its authors meant.
        #expect(
            try SentenceEmbeddingSettings(
                files: [
                    "modules.json": Array(Data(contentsOf: URL(fileURLWithPath: source.directory + "/modules.json"))),
                    "1_Pooling/config.json": Array(
                        Data(contentsOf: URL(fileURLWithPath: source.directory + "/1_Pooling/config.json"))),
                ], location: source.directory) == SentenceEmbeddingSettings(pooling: .mean, normalize: true))
        let weights = try FileManager.default.destinationOfSymbolicLink(atPath: source.directory + "/model.safetensors")
        #expect(weights.hasPrefix("../../blobs/"))
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: source.directory + "/model.safetensors"))
                == (try Data(contentsOf: URL(fileURLWithPath: Self.tiny + "/model.safetensors"))))

        // Python's huggingface_hub, offline, finds every file in the cache we wrote.
        let script = """
            import sys
            from huggingface_hub import hf_hub_download
            for name in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"]:
                path = hf_hub_download("prajjwal1/bert-tiny", name)
                print(name, open(path, "rb").read() == open(sys.argv[1] + "/" + name, "rb").read())
            """
        var python = ProcessInfo.processInfo.environment
        python["HF_HUB_CACHE"] = cache.path
        python["HF_HUB_OFFLINE"] = "1"
        let check = try ProcessRunner.run(
            "/usr/bin/env", python.map { "\($0)=\($1)" } + [Repository.python, "-c", script, Self.tiny])
        #expect(check.status == 0, "\(check.standardError)")
        #expect(
            check.outputText == "config.json True\nmodel.safetensors True\nvocab.txt True\ntokenizer_config.json True\n"
        )

        // The downloaded model chunks exactly like the local one.
        let fromHub = try TemporaryDirectory()
        let fromDisk = try TemporaryDirectory()
        let hubManifest = try await ModelChunker(
            modelName: "prajjwal1/bert-tiny", storage: FileSystemBackend(root: fromHub.path), offline: true,
            environment: environment
        ).chunkModel()
        let diskManifest = try await ModelChunker(modelName: Self.tiny, outputDirectory: fromDisk.path).chunkModel()
        #expect(hubManifest.chunks == diskManifest.chunks)
    }

    @Test("A transfer cut part way is resumed from where it stopped")
    func resumedDownload() async throws {
        let mirror = try HubMirror(failOnceAfter: 5_000_000)
        let cache = try TemporaryDirectory()
        let environment = ["HF_ENDPOINT": mirror.endpoint, "HF_HUB_CACHE": cache.path]
        let source = try await ModelSource.resolve(
            "prajjwal1/bert-tiny", environment: environment, currentDirectory: "/")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: source.directory + "/model.safetensors"))
                == (try Data(contentsOf: URL(fileURLWithPath: Self.tiny + "/model.safetensors"))))
        let blobs = try FileManager.default.contentsOfDirectory(
            atPath: cache.file("models--prajjwal1--bert-tiny/blobs"))
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
    }

    @Test("A wrong token, a missing repository and offline mode each fail with a clear error")
    func downloadErrors() async throws {
        let mirror = try HubMirror(token: "secret-token")
        let cache = try TemporaryDirectory()
        for (name, token, status) in [
            ("prajjwal1/bert-tiny", "wrong-token", 401), ("nobody/nothing", "secret-token", 404),
        ] {
            let environment = ["HF_ENDPOINT": mirror.endpoint, "HF_HUB_CACHE": cache.path, "HF_TOKEN": token]
            await #expect {
                _ = try await ModelSource.resolve(name, environment: environment, currentDirectory: "/")
            } throws: { error in
                "\(error)".hasPrefix("cannot find model '\(name)'")
                    && "\(error)".contains("that this token can read (HTTP \(status))")
            }
        }
        let offline = ["HF_ENDPOINT": mirror.endpoint, "HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1"]
        await #expect {
            _ = try await ModelSource.resolve("prajjwal1/bert-tiny", environment: offline, currentDirectory: "/")
        } throws: { error in
            "\(error)".contains("no download: offline")
        }
        #expect(throws: HubError.invalidEndpoint("ftp://example")) {
            _ = try HubDownloader(environment: ["HF_ENDPOINT": "ftp://example"])
        }
    }
}
