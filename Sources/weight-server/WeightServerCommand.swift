import ArgumentParser
import CommandSupport
import Foundation
import Logging
import StreamingWeights

@main
struct WeightServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weight-server",
        abstract: "Serve a chunked model over WebSocket from a directory or an S3 prefix.",
        discussion: """
            At start every object the manifest lists must exist with its size (with \
            --verify-on-start, its SHA-256 too), or the server stops naming it. GET /healthz \
            answers ok while that still holds (503 otherwise); GET /stats needs the bearer token \
            when there is one.
            """,
        version: "weight-server \(StreamingWeightsVersion.string), \(KernelSet.versionSummary)"
    )

    static func main() async { await runAsTool() }

    @Option(help: "The chunk directory to serve.")
    var chunksDir: String?

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
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

    @Option(help: "The most requests per second from one connection (0: no limit).")
    var rateLimit: Double = 1000

    @Option(
        name: .customLong("max-inflight-mb"),
        help: "MB of stored objects held for responses in flight, beyond which requests are answered rate_limited.")
    var maxInflightMB = 2048

    @Flag(help: "At start, read every object and check its SHA-256 and tensor list against the manifest.")
    var verifyOnStart = false

    @Flag(help: "Log each request.")
    var verbose = false

    @OptionGroup(title: "S3")
    var s3: S3Options

    func validate() throws {
        guard (chunksDir != nil) != s3.s3 else {
            throw ValidationError("Give --chunks-dir DIR, or --s3 with --s3-bucket.")
        }
        if s3.s3, s3.s3Bucket == nil { throw ValidationError("--s3 needs --s3-bucket.") }
        guard (0...65535).contains(port) else {
            throw ValidationError("--port must be between 0 and 65535, not \(port).")
        }
        guard rateLimit >= 0 else { throw ValidationError("--rate-limit must not be negative.") }
        guard cacheSize >= 0 else { throw ValidationError("--cache-size must not be negative.") }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together.")
        }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be at least 1.") }
        guard maxInflightMB > 0 else { throw ValidationError("--max-inflight-mb must be at least 1.") }
    }

    func run() async throws {
        let signals = Self.terminationSignals()
        let logger = CommandLogging.bootstrap("weight-server", level: verbose ? .debug : .info)
        let storage: any StorageBackend =
            try chunksDir.map { try FileSystemBackend(root: $0) } ?? s3.backend(logger: logger)
        var configuration = WeightServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.cacheBytes = cacheSize << 20
        configuration.maximumConnections = maxConnections
        configuration.requestsPerSecond = rateLimit
        configuration.maximumInFlightBytes = maxInflightMB << 20
        configuration.verifyOnStart = verifyOnStart
        if let tlsCert, let tlsKey {
            configuration.tls = try TLSStream.Context(certificateFile: tlsCert, keyFile: tlsKey)
        }
        if let authTokenFile {
            configuration.authToken = try TokenFile.read(authTokenFile)
        }
        let server = try await WeightServer(storage: storage, configuration: configuration, logger: logger)
        // The address on standard output, for scripts that start a server on port 0.
        FileHandle.standardOutput.write(
            Data("\(configuration.tls == nil ? "ws" : "wss")://\(host):\(server.port)\n".utf8))
        for await _ in signals { break }
        logger.info("shutting down: closing connections")
        server.stop()
    }

    /// SIGINT and SIGTERM as they arrive, caught from this call on: it is made before the
    /// server's address is printed, so a script that signals as soon as it reads the address
    /// is never ignored.
    static func terminationSignals() -> AsyncStream<Int32> {
        let (stream, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { continuation.yield(signalNumber) }
            source.resume()
            Signals.sources.append(source)
        }
        return stream
    }
}

/// Keeps the signal sources alive for the life of the process.
enum Signals {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
}
