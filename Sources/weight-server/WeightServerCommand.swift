import ArgumentParser
import CommandSupport
import StreamingWeights

@main
struct WeightServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weight-server",
        abstract: "Serve a chunked model over WebSocket from a directory or an S3 prefix."
    )

    @Option(help: "The chunk directory to serve.")
    var chunksDir: String?

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 8765

    @Option(help: "The most chunk bytes to keep in memory, in megabytes.")
    var cacheSize = 1024

    @Option(help: "A PEM certificate file: serve wss:// instead of ws://.")
    var tlsCert: String?

    @Option(help: "The PEM private key file that goes with --tls-cert.")
    var tlsKey: String?

    @Option(help: "A file holding the bearer token that clients must present.")
    var authTokenFile: String?

    @Option(help: "The most clients connected at once.")
    var maxConnections = 256

    @Flag(help: "Log each request.")
    var verbose = false

    @OptionGroup(title: "S3")
    var s3: S3Options

    func validate() throws {
        guard (chunksDir != nil) != s3.s3 else {
            throw ValidationError("Give --chunks-dir DIR, or --s3 with --s3-bucket.")
        }
        if s3.s3, s3.s3Bucket == nil { throw ValidationError("--s3 needs --s3-bucket.") }
        guard (1...65535).contains(port) else {
            throw ValidationError("--port must be between 1 and 65535, not \(port).")
        }
        guard cacheSize >= 0 else { throw ValidationError("--cache-size must not be negative.") }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together.")
        }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1.") }
    }

    func run() async throws {
        throw NotImplementedYet()
    }
}

struct NotImplementedYet: Error, CustomStringConvertible {
    var description: String { "weight-server is not implemented yet." }
}
