import ArgumentParser
import CommandSupport
import Foundation
import Logging
import StreamingWeights

@main
struct Infer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Tokenize text and run BERT, streaming each layer's weights from a weight server.",
        discussion: """
            Texts come as arguments (after -- when one starts with a dash), or one per line from \
            --input FILE or standard input. With --chunks-dir or --model the weights are read \
            locally; otherwise they stream from --server.
            """
    )

    @Argument(help: "The texts to embed. An empty string is a valid text.")
    var texts: [String] = []

    @Option(help: "Read texts from this file, one per line ('-' for standard input).")
    var input: String?

    @Option(help: "The weight server to stream from.")
    var server = "ws://127.0.0.1:8765"

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

    @Option(help: "A file holding the bearer token the server asks for.")
    var authTokenFile: String?

    @Option(help: "Verify a wss:// server against this PEM CA file instead of the system's CAs.")
    var caFile: String?

    @Flag(help: "Do not verify a wss:// server's certificate (self-signed test servers only).")
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

    @Flag(help: "Log retries and connections to standard error.")
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
        guard texts.isEmpty || input == nil else {
            throw ValidationError("Give texts as arguments or with --input, not both.")
        }
    }

    func run() async throws {
        Allocator.returnLargeBuffersPromptly()
        let encoder: TextEncoder
        let modelName: String
        var streaming: StreamingBertModel?
        let texts = try readTexts()
        if let chunksDir {
            encoder = try await TextEncoder(chunksDirectory: chunksDir)
            modelName = chunksDir
        } else if let model {
            encoder = try await TextEncoder(modelDirectory: model)
            modelName = model
        } else {
            let logger = CommandLogging.bootstrap("infer", level: verbose ? .info : .warning)
            let token = try authTokenFile.map(TokenFile.read)
            let tls =
                server.hasPrefix("wss:")
                ? try TLSStream.Context(caFile: caFile, insecure: insecure, logger: logger) : nil
            let model = try await StreamingBertModel(
                serverURL: server, cacheSize: cacheSize, prefetchDepth: noPrefetch ? 0 : prefetch, authToken: token,
                tls: tls, logger: logger)
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
            FileHandle.standardError.write(
                Data(
                    "warning: truncated \(result.truncatedCount) tokens of \(result.text.prefix(40).debugDescription) to the model's \(encoder.tokenizer.maximumLength)\n"
                        .utf8)
            )
        }
        if json {
            try OutputFormat.printJSON(results, model: modelName, includeHidden: hidden, streaming: streaming)
        } else {
            OutputFormat.printText(results, pooling: pooling, showStats: stats, streaming: streaming)
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
