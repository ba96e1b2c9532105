import Foundation

/// A chunk directory behind any static HTTP(S) server or CDN: nginx, an S3 website endpoint,
/// a bucket behind CloudFront.
///
/// Object `key` is read from `base/key`; a query string on the base (a CDN token) is kept on
/// every object's URL. Objects larger than ``partSize`` are read in parallel ranges; a transfer
/// cut part way resumes by range, and a server that ignores `Range` still works (the bytes
/// before the range are skipped). Connection failures, 5xx and 429 answers are retried with
/// backoff.
public struct HTTPObjectReader: ChunkObjectReader {
    /// The directory's URL, without a trailing slash or query.
    public let base: String
    /// The base's query string (without `?`), added to every object's URL.
    public let query: String?
    /// Sent with every request (`Authorization: Bearer ...` for a server that asks for a token).
    public var headers: [(String, String)] = []
    public var caFile: String?
    public var insecure = false
    public var partSize = 8 << 20
    public var concurrency = 4
    public var attempts = 5

    public var location: String { base }

    /// A reader of the chunk directory at `url` (`http://` or `https://`).
    ///
    /// - Throws: ``StorageError/unusableRoot(location:reason:)`` for another scheme or no host.
    public init(url: String) throws {
        var address = url
        var query: String?
        if let mark = address.firstIndex(of: "?") {
            query = String(address[address.index(after: mark)...])
            address = String(address[..<mark])
        }
        while address.hasSuffix("/") { address.removeLast() }
        guard let parsed = URL(string: address), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parsed.host, !host.isEmpty
        else {
            throw StorageError.unusableRoot(location: url, reason: "it is not an http:// or https:// URL with a host")
        }
        base = address
        self.query = query.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The URL of object `key`: each path segment percent-encoded.
    public func url(of key: String) throws -> String {
        try StorageError.validate(key)
        let path = key.split(separator: "/").map { segment in
            String(segment).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"]))
                ?? String(segment)
        }.joined(separator: "/")
        return base + "/" + path + (query.map { "?" + $0 } ?? "")
    }

    public func read(_ key: String, size: Int?) async throws -> ByteStorage {
        let (download, get) = try download(key)
        guard let size else {
            // A small object of unknown size (the manifest): one GET, retried whole.
            let attempts = attempts
            return try await runBlocking {
                var attempt = 1
                while true {
                    var bytes: [UInt8] = []
                    do {
                        try get(0..<Self.unknownSizeLimit) { bytes += $0 }
                        return ByteStorage(keeping: bytes[...])
                    } catch let error as HTTPError where attempt < attempts && !error.isPermanent {
                        attempt += 1
                        Thread.sleep(forTimeInterval: 0.05 * Double(1 << attempt))
                    }
                }
            }
        }
        return try await runBlocking { try download.read(size: size, get: get) }
    }

    public func readHashed(_ key: String, size: Int, algorithm: DigestAlgorithm) async throws -> TransportedObject {
        let (download, get) = try download(key)
        let (bytes, digest) = try await runBlocking {
            try download.readHashed(size: size, get: get, algorithm: algorithm)
        }
        return TransportedObject(bytes: bytes, digest: digest)
    }

    /// How object `key` is read: its ranges, and one GET of a range.
    private func download(_ key: String) throws -> (RangedDownload, RangedDownload.Get) {
        let url = try url(of: key)
        return (
            RangedDownload(partSize: partSize, concurrency: concurrency, attempts: attempts, url: url),
            rangedGet(url, key: key)
        )
    }

    /// The most bytes read of an object whose size is not known in advance.
    static let unknownSizeLimit = 64 << 20

    /// One GET of a range of `url`.
    ///
    /// A 200 answer (the server ignored `Range`) is read from the
    /// range's first byte up to its end; 5xx and 429 throw ``HTTPError`` (retried), 404
    /// ``StorageError/notFound(key:location:)``, other statuses ``HTTPStatusError``.
    private func rangedGet(_ url: String, key: String) -> RangedDownload.Get {
        let location = location
        var template = HTTPRequest(url: url, headers: headers)
        template.caFile = caFile
        template.insecure = insecure
        let base = template
        return { range, escapingSink in
            var request = base
            request.headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
            var status = 0
            var position = 0
            var errorBody: [UInt8] = []
            do {
                try withoutActuallyEscaping(escapingSink) { sink in
                    _ = try HTTPClient.perform(request, status: { status = $0 }) { bytes in
                        guard status == 200 || status == 206 else {
                            errorBody += bytes.prefix(max(0, 512 - errorBody.count))
                            return
                        }
                        // 206 starts at the range's first byte; 200 at the object's.
                        let start = status == 206 ? range.lowerBound : 0
                        let lower = max(range.lowerBound - (start + position), 0)
                        let upper = min(range.upperBound - (start + position), bytes.count)
                        position += bytes.count
                        if lower < upper { try sink(UnsafeRawBufferPointer(rebasing: bytes[lower..<upper])) }
                        if start + position >= range.upperBound, status == 200 { throw RangeComplete() }
                    }
                }
            } catch is RangeComplete {
                return
            }
            switch status {
            case 200, 206: return
            case 404, 410: throw StorageError.notFound(key: key, location: location)
            case 429, 500...599:
                throw HTTPError(url: url, code: status, message: "HTTP \(status)")
            default:
                throw HTTPStatusError(url: url, status: status, body: String(decoding: errorBody, as: UTF8.self))
            }
        }
    }
}

/// Stops a transfer once a range is complete when the server sends the whole object.
private struct RangeComplete: Error {}

/// An HTTP answer that is neither data nor worth retrying (401, 403, 416 ...).
public struct HTTPStatusError: Error, Hashable, CustomStringConvertible {
    public let url: String
    public let status: Int
    /// The start of the response body, which often says why.
    public let body: String

    public var description: String {
        let reason: String =
            switch status {
            case 401: " (the server asks for credentials: --auth-token-file)"
            case 403: " (access denied)"
            case 416: " (the object is shorter than the manifest says)"
            default: ""
            }
        let detail = body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(200)
        return "GET \(url) answered HTTP \(status)\(reason)" + (detail.isEmpty ? "" : ": \(detail)")
    }
}
