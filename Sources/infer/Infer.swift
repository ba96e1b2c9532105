import ArgumentParser
import CommandSupport
import Foundation
import Logging
import StreamingWeights

@main
struct Infer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Tokenize text and run BERT, streaming each layer's weights as the forward pass needs them.",
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

    @Option(help: "Where to stream from: ws://, wss://, s3://BUCKET/PREFIX, http://, https://, file:// or a path.")
    var source: String?

    @Option(help: "The weight server to stream from (the Python tool's flag; the same as --source).")
    var server: String?

    @Option(
        help:
            "For s3://: the endpoint of an S3-compatible store (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)."
    )
    var s3Endpoint: String?

    @Option(
        help: "For s3://: the bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1)."
    )
    var s3Region: String?

    @Option(help: "For s3://: the profile in ~/.aws/credentials and ~/.aws/config to use.")
    var s3Profile: String?

    @Option(help: "Read weights from a local chunk directory instead of a server.")
    var chunksDir: String?

    @Option(help: "Read weights from a local Hugging Face model directory instead of a server.")
    var model: String?

    @Option(help: "How many encoder layers stay in memory.")
    var cacheSize = 2

    @Option(help: "How many layers ahead to fetch while computing.")
    var prefetch = 1

    @Flag(help: "Fetch each layer only when it is needed.")
    var noPrefetch = false

    @Option(help: "A file holding the bearer token the weight server or HTTP server asks for.")
    var authTokenFile: String?

    @Option(help: "Verify a wss:// or https:// server against this PEM CA file instead of the system's CAs.")
    var caFile: String?

    @Flag(help: "Do not verify a wss:// or https:// server's certificate (self-signed test servers only).")
    var insecure = false

    @Option(help: "How to turn token states into one embedding: cls, mean or pooler.")
    var pooling: String = "cls"

    @Flag(help: "Scale each embedding to unit length (as sentence-transformers models do with mean pooling).")
    var normalize = false

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Flag(help: "With --json, add each text's last_hidden_state and pooler_output.")
    var hidden = false

    @Flag(help: "Print cache and timing statistics.")
    var stats = false

    @Flag(help: "Log connections, each object fetched and retries to standard error.")
    var verbose = false

    @Option(help: "Run the forward pass this many times and report its median and minimum time.")
    var `repeat` = 1

    @Option(help: "Compute threads (default: one per core).")
    var threads: Int?

    func validate() throws {
        guard cacheSize >= 1 else { throw ValidationError("--cache-size must be at least 1.") }
        guard prefetch >= 0 else { throw ValidationError("--prefetch must not be negative.") }
        guard Pooling(rawValue: pooling) != nil else {
            throw ValidationError("--pooling must be cls, mean or pooler, not '\(pooling)'.")
        }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        guard chunksDir == nil || model == nil else { throw ValidationError("Give --chunks-dir or --model, not both.") }
        guard source == nil || server == nil else { throw ValidationError("Give --source or --server, not both.") }
        guard (source == nil && server == nil) || (chunksDir == nil && model == nil) else {
            throw ValidationError(
                "--chunks-dir and --model load the model locally: give them without --source or --server.")
        }
        guard texts.isEmpty || input == nil else {
            throw ValidationError("Give texts as arguments or with --input, not both.")
        }
        guard !hidden || json else { throw ValidationError("--hidden adds to the JSON output: give it with --json.") }
        if let server, !server.lowercased().hasPrefix("ws://"), !server.lowercased().hasPrefix("wss://") {
            let suggestion =
                server.lowercased().hasPrefix("https://")
                ? "wss://" + server.dropFirst("https://".count)
                : server.lowercased().hasPrefix("http://") ? "ws://" + server.dropFirst("http://".count) : nil
            throw ValidationError(
                "--server takes a weight server's ws:// or wss:// URL, not '\(server)'"
                    + (suggestion.map {
                        ": write --server \($0) (or --source \(server) for a chunk directory behind an HTTP server)"
                    }
                        ?? "; give other sources with --source."))
        }
        if caFile != nil || insecure {
            let option = caFile != nil ? "--ca-file" : "--insecure"
            guard chunksDir == nil, model == nil else {
                throw ValidationError("\(option) applies to wss:// and https:// sources, not to local files.")
            }
            let url = source ?? server ?? "ws://127.0.0.1:8765"
            let scheme = url.lowercased()
            guard scheme.hasPrefix("wss://") || scheme.hasPrefix("https://") else {
                throw ValidationError(
                    "\(option) applies to wss:// and https:// sources, and '\(url)' is not one"
                        + (scheme.hasPrefix("ws://") ? ": for TLS write wss://" + url.dropFirst("ws://".count) : "."))
            }
        }
    }

    func run() async throws {
        Allocator.returnLargeBuffersPromptly()
        let encoder: TextEncoder
        let modelName: String
        var streaming: StreamingBertModel?
        let texts = try readTexts()
        let logger = CommandLogging.bootstrap("infer", level: verbose ? .info : .warning)
        let kernels = try KernelSet.selected()
        if kernels == .portable, KernelSet.onlyPortable {
            logger.info(
                "this CPU (\(KernelSet.cpuModel)) has no AVX2 or NEON: computing with the portable kernels, several times slower"
            )
        }
        if let chunksDir {
            // The same checks as --source DIR: the manifest, every file's size and SHA-256.
            let source = try await RemoteTensorSource(chunkDirectory: chunksDir, logger: logger)
            encoder = try await TextEncoder(loading: source)
            modelName = source.manifest.modelName
        } else if let model {
            encoder = try await TextEncoder(modelDirectory: model)
            modelName = (model as NSString).lastPathComponent
        } else {
            var options = ChunkSource.Options()
            options.logger = logger
            options.authToken = try authTokenFile.map(TokenFile.read)
            options.caFile = caFile
            options.insecure = insecure
            options.s3Endpoint = s3Endpoint
            options.credentialChain = AWSCredentialChain(profile: s3Profile, region: s3Region)
            let model = try await StreamingBertModel(
                source: source ?? server ?? "ws://127.0.0.1:8765", options: options, cacheSize: cacheSize,
                prefetchDepth: noPrefetch ? 0 : prefetch)
            encoder = TextEncoder(streaming: model)
            modelName = model.source.manifest.modelName
            streaming = model
        }
        let results = try await encoder.encode(
            texts,
            pooling: Pooling(rawValue: pooling) ?? .cls,
            normalize: normalize,
            threads: ComputeThreads(count: threads),
            repeatCount: `repeat`
        )
        for result in results.texts where result.truncatedCount > 0 {
            logger.warning(
                "truncated \(result.truncatedCount) tokens of \(result.text.prefix(40).debugDescription) to the model's \(encoder.tokenizer.maximumLength)"
            )
        }
        if json {
            try OutputFormat.printJSON(
                results, model: modelName, includeHidden: hidden, kernels: encoder.kernels, streaming: streaming)
        } else {
            OutputFormat.printText(
                results, pooling: pooling, showStats: stats, kernels: encoder.kernels, streaming: streaming)
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
