import ArgumentParser
import CommandSupport
import Foundation
import Logging
import StreamingWeights

@main
struct Chunker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunker",
        abstract:
            "Split a Hugging Face encoder (BERT, RoBERTa/XLM-R, DistilBERT, MPNet) into one safetensors file per component.",
        version: "chunker \(StreamingWeightsVersion.string), \(KernelSet.versionSummary)",
        subcommands: [Chunk.self, Verify.self],
        defaultSubcommand: Chunk.self
    )

    /// `chunker --help` shows the default command's options, which is what a user looks for
    /// (argument-parser would list only the subcommands).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if ["--help", "-h", "help"].contains(arguments.first), arguments.count == 1 {
            print(helpMessage(for: Chunk.self))
            return
        }
        await runAsTool(arguments)
    }
}

struct Chunk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk",
        abstract: "Split a model into chunks (the default command).",
        usage: """
            chunker [chunk] <model> --output-dir <output-dir> [<options>]
              chunker [chunk] <model> --s3 --s3-bucket <s3-bucket> [<options>]
              chunker verify <directory> [<options>]
            """,
        discussion: """
            Writes embeddings, each encoder layer and the pooler as separate safetensors files, plus \
            the model's config and tokenizer files and a manifest (chunk_info.json) with a SHA-256 \
            hash per file. MODEL is a directory, a name under $STREAMING_WEIGHTS_MODELS or \
            ./Fixtures, a model in the Hugging Face cache, or a Hugging Face id to download. \
            'chunker verify DIR' checks a chunk set against its manifest (chunker help verify).
            """
    )

    @Argument(help: "A model directory, a name under $STREAMING_WEIGHTS_MODELS or ./Fixtures, or a Hugging Face id.")
    var model: String

    @Option(help: "The directory to write the chunks to (created if missing).")
    var outputDir: String?

    @Flag(help: "Store each chunk gzip-compressed as NAME.safetensors.gz.")
    var compress = false

    @Option(help: "Convert floating-point weights to this dtype (default: keep the source dtype).")
    var dtype: StoredDType?

    @Option(
        help: ArgumentHelp(
            "How to store the layers' Linear weights: \(ChunkWeightLayout.allCases.map(\.rawValue).joined(separator: ", ")).",
            discussion:
                "pytorch (the default) keeps PyTorch's [out, in], as every safetensors reader expects. panels32 stores them packed as our kernels multiply them, [ceil(out / 32), in, 32], float32 or float16 (bfloat16 is refused): streamed layers then cost a pass what loaded ones do (docs/FORMAT.md)."
        ))
    var weightLayout: ChunkWeightLayout = .pytorch

    @Flag(help: "Never download: resolve the model from local folders and the Hugging Face cache only.")
    var offline = false

    @Flag(
        help:
            "Flush every file to disk before renaming it into place, so a power cut cannot lose a chunk the manifest lists (slower)."
    )
    var durable = false

    @Flag(
        help:
            "Write into an output that holds other files (not a chunk set of this model), removing every file there that the new chunk set does not list."
    )
    var overwrite = false

    @Flag(help: "Log each step.")
    var verbose = false

    @OptionGroup(title: "S3")
    var s3: S3Options

    func validate() throws {
        if s3.s3 {
            guard s3.s3Bucket != nil else { throw ValidationError("--s3 needs --s3-bucket.") }
            guard outputDir == nil else { throw ValidationError("Give either --output-dir or --s3, not both.") }
        } else if outputDir == nil {
            throw ValidationError("Give --output-dir DIR, or --s3 with --s3-bucket.")
        }
    }

    func run() async throws {
        let logger = Terminal.bootstrapLogging(verbose: verbose)
        let storage: any StorageBackend
        // A directory this run creates is removed again if the run fails: nothing half-made is left.
        var created: String?
        if let outputDir {
            var missing = (outputDir as NSString).standardizingPath
            while !missing.isEmpty, missing != "/", !FileManager.default.fileExists(atPath: missing) {
                created = missing
                missing = (missing as NSString).deletingLastPathComponent
            }
            storage = try FileSystemBackend(root: outputDir, create: true, durable: durable)
        } else {
            storage = try s3.backend(logger: logger)
        }
        do {
            try await chunk(into: storage, logger: logger)
        } catch {
            if let created { try? FileManager.default.removeItem(atPath: created) }
            throw error
        }
    }

    private func chunk(into storage: any StorageBackend, logger: Logger) async throws {
        let chunker = try ModelChunker(
            modelName: model,
            storage: storage,
            compress: compress,
            dtype: dtype?.dtype,
            weightLayout: weightLayout,
            offline: offline,
            overwrite: overwrite,
            logger: logger
        )
        let bar = ProgressBar()
        let verbose = verbose
        let manifest = try await chunker.chunkModel(
            progress: { progress in
                bar.update(
                    "\(progress.completed)/\(progress.total) \(progress.file)",
                    fraction: Double(progress.completed) / Double(progress.total),
                    // With --verbose the log says the same, with the size.
                    plain: verbose ? nil : "wrote \(progress.file)"
                )
            },
            downloadProgress: { file, received, total in
                let megabytes = String(format: "%.1f", Double(received) / 1_048_576)
                bar.update(
                    "downloading \(file) \(megabytes) MB",
                    fraction: total.map { Double(received) / Double(max($0, 1)) },
                    plain: nil
                )
            }
        )
        bar.finish()
        print("Model chunked into \(manifest.chunks.count) pieces")
        print(String(format: "Total size: %.2f MB", manifest.totalSizeMB))
        print(
            "Manifest: \(outputDir.map { ($0 as NSString).appendingPathComponent(ChunkManifest.fileName) } ?? storage.location + "/" + ChunkManifest.fileName)"
        )
    }
}

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every file of a chunk directory against its manifest.",
        discussion: """
            Re-reads each file and checks its size, SHA-256 and tensor list, and reports files the \
            manifest does not list; prints each problem found.
            """
    )

    @Argument(help: "The chunk directory (or give --s3 and the bucket).")
    var directory: String?

    @OptionGroup(title: "S3")
    var s3: S3Options

    func validate() throws {
        guard (directory != nil) != s3.s3 else {
            throw ValidationError("Give a chunk directory, or --s3 with --s3-bucket.")
        }
    }

    func run() async throws {
        let logger = Terminal.bootstrapLogging(verbose: false)
        let storage: any StorageBackend =
            try directory.map { try FileSystemBackend(root: $0) } ?? s3.backend(logger: logger)
        let problems = try await ChunkVerifier(storage: storage).verify()
        guard problems.isEmpty else {
            for problem in problems {
                FileHandle.standardError.write(Data("error: \(problem)\n".utf8))
            }
            throw ExitCode(1)
        }
        print("\(directory ?? storage.location): every file matches chunk_info.json")
    }
}

extension ChunkWeightLayout: ExpressibleByArgument {}

/// The floating dtypes a chunk set can be stored in, as Python names them (`--dtype`).
enum StoredDType: String, CaseIterable, ExpressibleByArgument {
    case float32, float16, bfloat16

    var dtype: DType {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        }
    }
}
