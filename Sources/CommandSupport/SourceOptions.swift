import ArgumentParser
import Foundation
import Logging
import StreamingWeights

/// Where `infer`'s weights come from, and how that place is reached: one path from the command
/// line to a ``ChunkSource`` for every kind of source.
///
/// `--source` takes every kind (`ws://`, `wss://`, `s3://`, `http(s)://`, `file://`, a path);
/// `--server` (a weight server) and `--chunks-dir` (a local chunk set, loaded whole) are the
/// Python tool's spellings; `--model` is a Hugging Face model directory.
public struct SourceOptions: ParsableArguments {
    @Option(help: "Where to stream from: ws://, wss://, s3://BUCKET/PREFIX, http://, https://, file:// or a path.")
    public var source: String?

    @Option(help: "The weight server to stream from (the Python tool's flag; the same as --source).")
    public var server: String?

    @Option(help: "Load a local chunk directory whole, checked exactly as --source DIR checks it.")
    public var chunksDir: String?

    @Option(help: "Load a local Hugging Face model directory instead of a chunk set.")
    public var model: String?

    @Option(help: "A file holding the bearer token the weight server or HTTP server asks for.")
    public var authTokenFile: String?

    @Option(help: "Verify a wss:// or https:// server against this PEM CA file instead of the system's CAs.")
    public var caFile: String?

    @Flag(help: "Do not verify a wss:// or https:// server's certificate (self-signed test servers only).")
    public var insecure = false

    @OptionGroup(title: "S3 (for --source s3://)")
    public var s3: S3AccessOptions

    public init() {}

    /// The address streamed from when nothing is loaded locally.
    public var url: String { source ?? server ?? "ws://127.0.0.1:8765" }

    /// Whether the model is loaded locally (`--chunks-dir` or `--model`) rather than streamed.
    public var isLocal: Bool { chunksDir != nil || model != nil }

    public func validate() throws {
        guard chunksDir == nil || model == nil else { throw ValidationError("Give --chunks-dir or --model, not both.") }
        guard source == nil || server == nil else { throw ValidationError("Give --source or --server, not both.") }
        guard (source == nil && server == nil) || !isLocal else {
            throw ValidationError(
                "--chunks-dir and --model load the model locally: give them without --source or --server.")
        }
        if let server, !server.lowercased().hasPrefix("ws://"), !server.lowercased().hasPrefix("wss://") {
            let suggestion =
                server.lowercased().hasPrefix("https://")
                ? "wss://" + server.dropFirst("https://".count)
                : server.lowercased().hasPrefix("http://") ? "ws://" + server.dropFirst("http://".count) : nil
            throw ValidationError(
                "--server takes a weight server's ws:// or wss:// URL, not '\(server)'"
                    + (suggestion.map {
                        ": write --server \($0) (or --source \(server) for a chunk directory behind an HTTP server)"
                    } ?? "; give other sources with --source."))
        }
        if caFile != nil || insecure {
            let option = caFile != nil ? "--ca-file" : "--insecure"
            guard !isLocal else {
                throw ValidationError("\(option) applies to wss:// and https:// sources, not to local files.")
            }
            let scheme = url.lowercased()
            guard scheme.hasPrefix("wss://") || scheme.hasPrefix("https://") else {
                throw ValidationError(
                    "\(option) applies to wss:// and https:// sources, and '\(url)' is not one"
                        + (scheme.hasPrefix("ws://") ? ": for TLS write wss://" + url.dropFirst("ws://".count) : "."))
            }
        }
    }

    /// How the source is reached: the token, the TLS settings, the S3 chain and endpoint.
    ///
    /// - Throws: `ValidationError` for an unreadable token file.
    public func chunkSourceOptions(logger: Logger) throws -> ChunkSource.Options {
        var options = ChunkSource.Options()
        options.logger = logger
        options.authToken = try authTokenFile.map(TokenFile.read)
        options.caFile = caFile
        options.insecure = insecure
        options.s3Endpoint = s3.s3Endpoint
        options.credentialChain = s3.chain
        if url.lowercased().hasPrefix("s3://") { s3.warnAboutKeys(logger) }
        return options
    }
}
