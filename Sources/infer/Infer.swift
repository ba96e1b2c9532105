import ArgumentParser
import CommandSupport
import Foundation
import Logging
import StreamingWeights

@main
struct Infer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract:
            "Tokenize text and run an encoder (BERT, RoBERTa/XLM-R, DistilBERT, MPNet), streaming each layer's weights as the forward pass needs them.",
        discussion: """
            Texts come as arguments (after -- when one starts with a dash), or one per line from \
            --input FILE or standard input. Weights stream from --source: a weight server \
            (ws://, wss://), an S3 bucket (s3://bucket/prefix), a static HTTP server holding a \
            chunk directory (http://, https://), or a local chunk directory (file:// or a path); \
            the default is ws://127.0.0.1:8765. With --chunks-dir or --model the whole model is \
            loaded locally instead.
            """,
        version: "infer \(StreamingWeightsVersion.string), \(KernelSet.versionSummary)"
    )

    static func main() async {
        await runAsTool(
            unknownOptionHint: "A text that starts with a dash goes after --, as in: infer [options] -- \"-text\"")
    }

    @Argument(help: "The texts to embed. An empty string is a valid text.")
    var texts: [String] = []

    @Option(help: "Read texts from this file, one per line ('-' for standard input).")
    var input: String?

    @Option(
        help: ArgumentHelp(
            "Score each text against this query with the model's classification head (a cross-encoder) instead of embedding it.",
            valueName: "query"))
    var rerank: String?

    @OptionGroup(title: "Weights")
    var weights: SourceOptions

    @OptionGroup(title: "Layer cache (streaming)")
    var cache: CacheOptions

    @OptionGroup(title: "Embedding")
    var embedding: EmbeddingOptions

    @OptionGroup(title: "Output")
    var output: OutputOptions

    func validate() throws {
        guard texts.isEmpty || input == nil else {
            throw ValidationError("Give texts as arguments or with --input, not both.")
        }
        guard rerank == nil || !output.hidden else {
            throw ValidationError("--hidden adds token states to embeddings; --rerank prints scores.")
        }
    }

    func run() async throws {
        let encoder: TextEncoder
        let modelName: String
        var streaming: StreamingBertModel?
        let texts = try readTexts()
        let logger = CommandLogging.bootstrap("infer", level: output.verbose ? .info : .warning)
        let kernels = try KernelSet.selected()
        if kernels == .portable, KernelSet.onlyPortable {
            logger.info(
                "this CPU (\(KernelSet.cpuModel)) has no AVX2 or NEON: computing with the portable kernels, several times slower"
            )
        }
        if let chunksDir = weights.chunksDir {
            // The same checks as --source DIR: the manifest, every file's size and SHA-256.
            let source = try await RemoteTensorSource(chunkDirectory: chunksDir, logger: logger)
            encoder = try await TextEncoder(loading: source)
            modelName = source.manifest.modelName
        } else if let model = weights.model {
            encoder = try await TextEncoder(modelDirectory: model)
            modelName = (model as NSString).lastPathComponent
        } else {
            let model = try await StreamingBertModel(
                source: weights.url, options: try weights.chunkSourceOptions(logger: logger),
                cacheSize: cache.cacheSize, prefetchDepth: cache.noPrefetch ? 0 : cache.prefetch)
            encoder = TextEncoder(streaming: model)
            modelName = model.source.manifest.modelName
            streaming = model
        }
        if let rerank {
            let scores = try await encoder.rerank(
                query: rerank, texts: texts, threads: ComputeThreads(count: embedding.threads))
            for score in scores where score.truncatedCount > 0 {
                logger.warning(
                    "truncated \(score.truncatedCount) tokens of the query and \(score.text.prefix(40).debugDescription) to the model's \(encoder.tokenizer.maximumLength)"
                )
            }
            try OutputFormat.printScores(scores, query: rerank, model: modelName, json: output.json)
            return
        }
        let results = try await encoder.encode(
            texts,
            pooling: embedding.pooling,
            normalize: embedding.normalize,
            threads: ComputeThreads(count: embedding.threads),
            repeatCount: embedding.repeat
        )
        for result in results.texts where result.truncatedCount > 0 {
            logger.warning(
                "truncated \(result.truncatedCount) tokens of \(result.text.prefix(40).debugDescription) to the model's \(encoder.tokenizer.maximumLength)"
            )
        }
        if output.json {
            try OutputFormat.printJSON(
                results, model: modelName, includeHidden: output.hidden, kernels: encoder.kernels,
                streaming: streaming)
        } else {
            OutputFormat.printText(
                results, pooling: results.pooling.rawValue, showStats: output.stats, kernels: encoder.kernels,
                streaming: streaming)
        }
    }

    /// The texts from the arguments, --input, or standard input.
    private func readTexts() throws -> [String] {
        if !texts.isEmpty { return texts }
        let data: Data
        if let input, input != "-" {
            guard let contents = FileManager.default.contents(atPath: input) else {
                throw ValidationError("Cannot read --input '\(input)'.")
            }
            data = contents
        } else {
            guard input == "-" || isatty(STDIN_FILENO) == 0 else {
                throw ValidationError("No texts: give them as arguments, with --input FILE, or on standard input.")
            }
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        var lines = Array(data).split(separator: 0x0a, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0d ? line.dropLast() : line, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw ValidationError("No texts: the input is empty.") }
        return lines
    }
}

/// How many layers a streamed model keeps and fetches ahead.
struct CacheOptions: ParsableArguments {
    @Option(help: "How many encoder layers stay in memory.")
    var cacheSize = 2

    @Option(help: "How many layers ahead to fetch while computing.")
    var prefetch = 1

    @Flag(help: "Fetch each layer only when it is needed.")
    var noPrefetch = false

    func validate() throws {
        guard cacheSize >= 1 else { throw ValidationError("--cache-size must be at least 1.") }
        guard prefetch >= 0 else { throw ValidationError("--prefetch must not be negative.") }
    }
}

/// How token states become an embedding, and how the pass runs.
struct EmbeddingOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "How to turn token states into one embedding (default: the model's own, from its sentence-transformers files, else cls).",
            valueName: Pooling.allCases.map(\.rawValue).joined(separator: "|")))
    var pooling: Pooling?

    @Flag(
        inversion: .prefixedNo,
        help: "Scale each embedding to unit length (default: as the model's sentence-transformers files say, else not)."
    )
    var normalize: Bool?

    @Option(help: "Run the forward pass this many times and report its median and minimum time.")
    var `repeat` = 1

    @Option(help: "Compute threads (default: one per core).")
    var threads: Int?

    func validate() throws {
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }
}

/// What is printed.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the results as JSON.")
    var json = false

    @Flag(help: "With --json, add each text's last_hidden_state and pooler_output.")
    var hidden = false

    @Flag(help: "Print cache and timing statistics.")
    var stats = false

    @Flag(help: "Log connections, each object fetched and retries to standard error.")
    var verbose = false

    func validate() throws {
        guard !hidden || json else { throw ValidationError("--hidden adds to the JSON output: give it with --json.") }
    }
}

extension Pooling: ExpressibleByArgument {}
