import ArgumentParser
import StreamingWeights

@main
struct Infer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Tokenize text and run BERT, streaming each layer's weights from a weight server."
    )

    @Argument(help: "The texts to embed.")
    var texts: [String] = []

    @Option(help: "The weight server to stream from.")
    var server = "ws://127.0.0.1:8765"

    @Option(help: "Read weights from a local chunk directory instead of a server.")
    var chunksDir: String?

    @Option(help: "How many encoder layers stay in memory.")
    var cacheSize = 2

    @Option(help: "How many layers ahead to fetch while computing.")
    var prefetch = 1

    @Flag(help: "Fetch each layer only when it is needed.")
    var noPrefetch = false

    @Option(help: "How to turn token states into one embedding: cls, mean or pooler.")
    var pooling = "cls"

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Flag(help: "Print cache and timing statistics.")
    var stats = false

    func validate() throws {
        guard cacheSize >= 1 else { throw ValidationError("--cache-size must be at least 1.") }
        guard prefetch >= 0 else { throw ValidationError("--prefetch must not be negative.") }
        guard ["cls", "mean", "pooler"].contains(pooling) else {
            throw ValidationError("--pooling must be cls, mean or pooler, not '\(pooling)'.")
        }
    }

    func run() async throws {
        throw NotImplementedYet()
    }
}

struct NotImplementedYet: Error, CustomStringConvertible {
    var description: String { "infer is not implemented yet." }
}
