import Foundation
import Logging

/// Where a streamed model's chunk set is, written as a URL.
///
/// - `ws://host:port`, `wss://host:port`: a weight server.
/// - `s3://bucket/prefix`: the bucket itself (Signature V4, parallel ranged reads).
/// - `http://...`, `https://...`: a static server or CDN holding a chunk directory.
/// - `file:///path` or a plain path: a local chunk directory, read the same way.
public enum ChunkSource: Equatable, Sendable, CustomStringConvertible {
    case weightServer(url: String)
    case s3(bucket: String, prefix: String)
    case http(url: String)
    case directory(path: String)

    /// Parses `text`.
    ///
    /// - Throws: ``ChunkSourceError`` for an unknown scheme or an `s3://` URL without a bucket.
    public init(_ text: String) throws {
        let lowered = text.lowercased()
        if lowered.hasPrefix("ws://") || lowered.hasPrefix("wss://") {
            self = .weightServer(url: text)
        } else if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            self = .http(url: text)
        } else if lowered.hasPrefix("s3://") {
            let rest = text.dropFirst("s3://".count)
            let bucket = rest.prefix { $0 != "/" }
            guard !bucket.isEmpty else { throw ChunkSourceError.noBucket(text) }
            let prefix = rest.dropFirst(bucket.count).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            self = .s3(bucket: String(bucket), prefix: prefix)
        } else if lowered.hasPrefix("file://") {
            let path = String(text.dropFirst("file://".count))
            guard path.hasPrefix("/") else { throw ChunkSourceError.relativeFileURL(text) }
            self = .directory(path: path.removingPercentEncoding ?? path)
        } else if let colon = text.firstIndex(of: ":"), let slash = text.firstIndex(of: "/"), colon < slash,
            text[text.index(after: colon)...].hasPrefix("//")
        {
            throw ChunkSourceError.unsupportedScheme(text, scheme: String(text[..<colon]))
        } else {
            guard !text.isEmpty else { throw ChunkSourceError.empty }
            self = .directory(path: text)
        }
    }

    public var description: String {
        switch self {
        case .weightServer(let url), .http(let url): url
        case .s3(let bucket, let prefix): "s3://\(bucket)" + (prefix.isEmpty ? "" : "/\(prefix)")
        case .directory(let path): path
        }
    }

    /// How each kind of source is reached: credentials, certificates, a token.
    public struct Options: Sendable {
        /// Sent as `Authorization: Bearer <token>` to a weight server or an HTTP server.
        public var authToken: String?
        /// For `wss://` and `https://`: a PEM file of the CAs to trust instead of the system's.
        public var caFile: String?
        /// For `wss://` and `https://`: do not verify the certificate (self-signed test servers only).
        public var insecure = false
        /// For `s3://`: the endpoint of an S3-compatible store (default: `AWS_ENDPOINT_URL_S3`,
        /// then `AWS_ENDPOINT_URL`, then AWS itself).
        public var s3Endpoint: String?
        /// For `s3://`: where credentials and the region come from (the AWS chain: keys given,
        /// the environment, a profile, ECS or EC2 metadata).
        public var credentialChain = AWSCredentialChain()
        /// Logs retries and reconnections.
        public var logger: Logger?

        public init() {}
    }

    /// The transport that reads this source.
    ///
    /// - Throws: ``ChunkSourceError/tlsOptionWithoutTLS(_:option:)`` for a CA file or `insecure`
    ///   with a source that is not `wss://` or `https://`, ``S3ConfigurationError`` for an unusable
    ///   endpoint, ``AWSCredentialError`` when an `s3://` source finds no credentials,
    ///   ``StorageError`` for a directory that does not exist, a TLS error for an unreadable CA file.
    public func transport(_ options: Options = Options()) throws -> any ChunkTransport {
        if options.caFile != nil || options.insecure {
            let secure: Bool
            switch self {
            case .weightServer(let url), .http(let url):
                secure = url.lowercased().hasPrefix("wss:") || url.lowercased().hasPrefix("https:")
            case .s3, .directory:
                secure = false
            }
            guard secure else {
                throw ChunkSourceError.tlsOptionWithoutTLS(
                    description, option: options.caFile != nil ? "a CA file" : "insecure")
            }
        }
        switch self {
        case .weightServer(let url):
            var configuration = WeightClient.Configuration(url: url)
            configuration.authToken = options.authToken
            if url.lowercased().hasPrefix("wss:") {
                configuration.tls = try TLSStream.Context(
                    caFile: options.caFile, insecure: options.insecure, logger: options.logger)
            }
            return WeightServerTransport(client: WeightClient(configuration: configuration, logger: options.logger))
        case .s3(let bucket, let prefix):
            return StoreTransport(
                reader: try S3Backend(
                    bucket: bucket, prefix: prefix, endpoint: options.s3Endpoint, chain: options.credentialChain))
        case .http(let url):
            var reader = try HTTPObjectReader(url: url)
            if let token = options.authToken { reader.headers.append(("Authorization", "Bearer \(token)")) }
            reader.caFile = options.caFile
            reader.insecure = options.insecure
            if options.insecure, url.lowercased().hasPrefix("https:") {
                options.logger?.warning("\(TLSStream.insecureWarning)")
            }
            return StoreTransport(reader: reader)
        case .directory(let path):
            return StoreTransport(reader: try FileSystemBackend(root: path))
        }
    }
}

/// A source URL that cannot be used.
public enum ChunkSourceError: Error, Hashable, CustomStringConvertible {
    case empty
    case noBucket(String)
    case relativeFileURL(String)
    case unsupportedScheme(String, scheme: String)
    /// A TLS setting (a CA file, or insecure) for a source that does not use TLS.
    case tlsOptionWithoutTLS(String, option: String)

    public var description: String {
        switch self {
        case .empty:
            "the source is empty: give ws://, wss://, s3://, http://, https://, file:// or a directory path"
        case .noBucket(let text):
            "'\(text)' names no bucket: write s3://BUCKET or s3://BUCKET/PREFIX"
        case .relativeFileURL(let text):
            "'\(text)' is not an absolute file URL: write file:///absolute/path or give the path alone"
        case .tlsOptionWithoutTLS(let text, let option):
            "\(option) applies to wss:// and https:// sources, not to '\(text)'"
                + (text.lowercased().hasPrefix("ws://") ? " (for TLS, write wss://)" : "")
        case .unsupportedScheme(let text, let scheme):
            "'\(text)': the scheme '\(scheme)' is not supported; use ws://, wss://, s3://, http://, https:// or file://"
        }
    }
}
