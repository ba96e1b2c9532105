import Foundation

/// Objects in an S3 bucket (AWS or any S3-compatible store), over libcurl with Signature V4.
///
/// Keys live under `prefix` in `bucket`. A custom `endpoint` (SeaweedFS, MinIO, moto) is
/// addressed path-style (`endpoint/bucket/key`), AWS virtual-hosted style
/// (`bucket.s3.region.amazonaws.com/key`). Large objects are read with parallel ranged GETs and
/// written with a multipart upload (aborted if the write fails or is abandoned). Connection
/// errors, 5xx answers and throttling are retried with exponential backoff and jitter, bounded
/// by attempts and time; a download cut part way resumes from the byte it reached.
public final class S3Backend: StorageBackend, @unchecked Sendable {
    /// Everything that says where the bucket is and how to talk to it.
    public struct Configuration: Sendable {
        public var bucket: String
        /// Prepended to every key, with a `/` between (`models/bert-tiny` -> `models/bert-tiny/layer_0.safetensors`).
        public var prefix: String
        public var region: String
        /// `http(s)://host[:port]` of an S3-compatible store, or `nil` for AWS.
        public var endpoint: String?
        public var credentials: AWSCredentials
        /// When set, the credentials requests are signed with (renewed before they expire);
        /// otherwise ``credentials``.
        public var refreshingCredentials: RefreshingCredentials?
        /// Objects larger than this are read in parallel ranges, and written in parts, of ``partSize``.
        public var partSize: Int = 8 << 20
        public var multipartThreshold: Int = 16 << 20
        /// Ranged GETs in flight at once for one object.
        public var concurrency: Int = 4
        /// Tries per request, the first included.
        public var maximumAttempts: Int = 5
        /// Seconds after which a request is not retried any more.
        public var retryBudget: TimeInterval = 60
        /// Seconds to wait for a connection.
        public var connectTimeout: Int = 10
        /// Seconds without a byte before a transfer is abandoned (and retried).
        public var stallTimeout: Int = 30
        /// The time requests are signed with (a test can set a skewed clock).
        public var clock: @Sendable () -> Date = { Date() }

        public init(
            bucket: String, prefix: String = "", region: String, endpoint: String? = nil, credentials: AWSCredentials
        ) {
            self.bucket = bucket
            self.prefix = prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            self.region = region
            self.endpoint = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            self.credentials = credentials
        }
    }

    public let configuration: Configuration

    /// A backend for `bucket`/`prefix` configured as the AWS tools would be: the endpoint given
    /// or from `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL` (``S3Endpoint``), the region and
    /// credentials from `chain`, renewed before they expire when temporary.
    ///
    /// - Throws: ``S3ConfigurationError`` for an unusable endpoint, ``AWSCredentialError``
    ///   when no credentials are found.
    public convenience init(bucket: String, prefix: String, endpoint: String?, chain: AWSCredentialChain) throws {
        let endpoint = try S3Endpoint.resolve(explicit: endpoint, environment: chain.environment)
        let credentials = try chain.refreshingCredentials()
        var configuration = Configuration(
            bucket: bucket, prefix: prefix, region: try chain.resolvedRegion(), endpoint: endpoint,
            credentials: try credentials.current())
        configuration.refreshingCredentials = credentials
        self.init(configuration: configuration)
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// A signer with the current credentials.
    private func signer() throws -> SigV4Signer {
        let credentials = try configuration.refreshingCredentials?.current() ?? configuration.credentials
        return SigV4Signer(credentials: credentials, region: configuration.region)
    }

    /// The Python tool's signature.
    public convenience init(
        bucket: String, prefix: String = "", region: String, endpoint: String? = nil, credentials: AWSCredentials
    ) {
        self.init(
            configuration: Configuration(
                bucket: bucket, prefix: prefix, region: region, endpoint: endpoint, credentials: credentials))
    }

    public var location: String {
        "s3://\(configuration.bucket)" + (configuration.prefix.isEmpty ? "" : "/\(configuration.prefix)")
    }

    private func objectKey(_ key: String) -> String {
        configuration.prefix.isEmpty ? key : configuration.prefix + "/" + key
    }

    // MARK: - Requests

    /// Where requests go: the scheme, the host (with port) and the path before the key.
    ///
    /// - Throws: ``S3ConfigurationError`` for an endpoint that is not `http(s)://HOST[:PORT]`:
    ///   a request meant for another store never goes to AWS.
    private func address() throws -> (scheme: String, host: String, basePath: String) {
        guard let endpoint = configuration.endpoint else {
            return ("https", "\(configuration.bucket).s3.\(configuration.region).amazonaws.com", "")
        }
        guard let (scheme, host) = S3Endpoint.parse(endpoint) else {
            throw S3ConfigurationError.invalidEndpoint(endpoint, origin: "the configuration")
        }
        return (scheme, host, "/" + configuration.bucket)
    }

    /// A presigned GET URL for `key`, valid for `expires` seconds.
    public func presignedURL(for key: String, expires: Int = 3600) throws -> String {
        try StorageError.validate(key)
        let (scheme, host, basePath) = try address()
        return try signer().presignedURL(
            scheme: scheme, host: host, path: basePath + "/" + objectKey(key), expires: expires,
            date: configuration.clock())
    }

    /// Sends one request, retrying what can be retried, and hands the body of a successful
    /// response to `body`.
    ///
    /// On a retry `body` is called again from the first byte.
    @discardableResult
    func send(
        _ method: String,
        key: String?,
        query: [(String, String)] = [],
        headers: [(String, String)] = [],
        payload: [UInt8]? = nil,
        allowedStatuses: Set<Int> = [],
        retriesTransportErrors: Bool = true,
        body: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> HTTPResponse {
        let (scheme, host, basePath) = try address()
        let path = basePath + (key.map { "/" + objectKey($0) } ?? "/")
        let operation = "\(method) s3://\(configuration.bucket)/\(key.map(objectKey) ?? "")"
        let payloadHash = payload.map { Digest.sha256($0).hexString } ?? SigV4Signer.emptyPayloadHash
        let queryString = SigV4Signer.canonicalQuery(query)
        let url =
            "\(scheme)://\(host)\(SigV4Signer.canonicalURI(path, rule: .s3))"
            + (queryString.isEmpty ? "" : "?" + queryString)
        let started = Date()
        var attempt = 0
        while true {
            attempt += 1
            let signature = try signer().sign(
                method: method, path: path, query: query, headers: [("Host", host)] + headers, payloadHash: payloadHash,
                date: configuration.clock())
            let request = HTTPRequest(
                method: method,
                url: url,
                headers: headers + signature.headers,
                body: payload,
                followsRedirects: false,
                connectTimeout: configuration.connectTimeout,
                stallTimeout: configuration.stallTimeout
            )
            var errorBody: [UInt8] = []
            var failure: (any Error)?
            do {
                var status = 0
                let response = try HTTPClient.perform(
                    request,
                    status: { status = $0 },
                    body: { bytes in
                        if (200..<300).contains(status) || allowedStatuses.contains(status) {
                            try body?(bytes)
                        } else if errorBody.count < 1 << 20 {
                            errorBody.append(contentsOf: bytes)
                        }
                    }
                )
                if (200..<300).contains(response.status) || allowedStatuses.contains(response.status) {
                    return response
                } else {
                    failure = Self.error(
                        status: response.status, body: errorBody, operation: operation, headers: response)
                }
            } catch let error as HTTPError {
                failure = error
            }
            let retryable =
                (failure as? S3Error)?.isRetryable
                ?? ((failure as? HTTPError).map { !$0.isPermanent } == true && retriesTransportErrors)
            guard retryable, attempt < configuration.maximumAttempts,
                Date().timeIntervalSince(started) < configuration.retryBudget
            else {
                throw failure ?? S3Error(status: 0, code: "Unknown", message: "", requestID: nil, operation: operation)
            }
            // Exponential backoff with full jitter: 0.1 s, 0.2 s, 0.4 s, ... at most 5 s.
            let ceiling = min(5.0, 0.1 * Double(1 << min(attempt - 1, 6)))
            Thread.sleep(forTimeInterval: Double.random(in: ceiling / 2...ceiling))
        }
    }

    static func error(status: Int, body: [UInt8], operation: String, headers: HTTPResponse) -> S3Error {
        if let error = S3Error(document: body, status: status, operation: operation) {
            return error.requestID == nil
                ? S3Error(
                    status: status, code: error.code, message: error.message,
                    requestID: headers.header("x-amz-request-id"), operation: operation)
                : error
        }
        // A HEAD has no body: only the status says what happened. A 403 is never "not found".
        let code: String
        switch status {
        case 404: code = "NotFound"
        case 403: code = "AccessDenied"
        case 301, 307: code = "PermanentRedirect"
        default: code = "HTTP \(status)"
        }
        return S3Error(
            status: status, code: code, message: "", requestID: headers.header("x-amz-request-id"), operation: operation
        )
    }

    // MARK: - StorageBackend

    public func size(of key: String) async throws -> Int? {
        try StorageError.validate(key)
        let response = try await runBlocking {
            let response: HTTPResponse
            do {
                response = try self.send("HEAD", key: key, allowedStatuses: [404])
            } catch let error as S3Error where error.status == 403 {
                // A HEAD's 403 has no body to say why (a wrong secret, an unknown key, a
                // policy): a one-byte GET gets the error document that does.
                try self.send("GET", key: key, headers: [("Range", "bytes=0-0")], allowedStatuses: [404, 416])
                throw error
            }
            if response.status == 404 {
                // Nor does a 404 say whether the object or the whole bucket is missing: the
                // GET's error document does (NoSuchBucket is thrown, NoSuchKey is "no object").
                do {
                    try self.send("GET", key: key, headers: [("Range", "bytes=0-0")], allowedStatuses: [416])
                } catch let error as S3Error where error.status == 404 {
                    if error.code == "NoSuchBucket" { throw error }
                }
            }
            return response
        }
        guard response.status != 404 else { return nil }
        return response.header("content-length").flatMap(Int.init)
    }

    public func read(_ key: String) async throws -> ByteStorage {
        try await read(key, size: nil)
    }

    /// The object, in parallel ranges of ``Configuration/partSize``; with `size` given (the
    /// manifest's), its first `size` bytes without asking its size first.
    ///
    /// - Throws: ``StorageError/notFound(key:location:)`` when a HEAD finds no object,
    ///   ``S3Error`` otherwise (404 `NoSuchKey` when a GET finds none, 416 when it is shorter).
    public func read(_ key: String, size: Int?) async throws -> ByteStorage {
        try StorageError.validate(key)
        var known = size
        if known == nil { known = try await self.size(of: key) }
        guard let size = known else { throw StorageError.notFound(key: key, location: location) }
        let download = download(key)
        return try await runBlocking { try download.read(size: size, get: self.ranged(key)) }
    }

    /// The object's `size` bytes (the manifest's) with their digest by `algorithm`, computed
    /// as they arrive when the object is one range.
    public func readHashed(_ key: String, size: Int, algorithm: DigestAlgorithm) async throws -> TransportedObject {
        try StorageError.validate(key)
        let download = download(key)
        let (bytes, digest) = try await runBlocking {
            try download.readHashed(size: size, get: self.ranged(key), algorithm: algorithm)
        }
        return TransportedObject(bytes: bytes, digest: digest)
    }

    public func read(_ key: String, range: Range<Int>) async throws -> [UInt8] {
        guard let size = try await size(of: key) else { throw StorageError.notFound(key: key, location: location) }
        guard range.lowerBound >= 0, range.upperBound <= size else {
            throw StorageError.rangeOutOfBounds(key: key, range: range, size: size)
        }
        let download = download(key)
        return try await runBlocking {
            var bytes = [UInt8](repeating: 0, count: range.count)
            try bytes.withUnsafeMutableBytes { buffer in
                guard let base = buffer.baseAddress else { return }
                try download.fetch(range, into: base, get: self.ranged(key))
            }
            return bytes
        }
    }

    private func download(_ key: String) -> RangedDownload {
        RangedDownload(
            partSize: configuration.partSize, concurrency: configuration.concurrency,
            attempts: configuration.maximumAttempts, url: "s3://\(configuration.bucket)/\(objectKey(key))")
    }

    /// A ranged GET of `key` (S3 errors and throttling are retried by ``send``, cut transfers
    /// by ``RangedDownload``).
    private func ranged(_ key: String) -> RangedDownload.Get {
        { range, sink in
            let headers = [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")]
            try withoutActuallyEscaping(sink) { sink in
                _ = try self.send("GET", key: key, headers: headers, retriesTransportErrors: false, body: sink)
            }
        }
    }

    public func list(prefix: String) async throws -> [String] {
        try await runBlocking { try self.listBlocking(prefix: prefix) }
    }

    /// ``list(prefix:)`` on the calling thread: ListObjectsV2 page by page.
    private func listBlocking(prefix: String) throws -> [String] {
        var keys: [String] = []
        var token: String?
        let base = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        repeat {
            var query = [("list-type", "2"), ("prefix", base + prefix)]
            if let token { query.append(("continuation-token", token)) }
            var body: [UInt8] = []
            try send("GET", key: nil, query: query) { body.append(contentsOf: $0) }
            guard let xml = S3XML(body) else {
                throw S3Error(
                    status: 200, code: "MalformedXML", message: "unreadable ListObjectsV2 response", requestID: nil,
                    operation: "GET s3://\(configuration.bucket)?list-type=2")
            }
            keys += xml.all("ListBucketResult/Contents/Key").map { String($0.dropFirst(base.count)) }
            token =
                xml.first("ListBucketResult/IsTruncated") == "true"
                ? xml.first("ListBucketResult/NextContinuationToken") : nil
        } while token != nil
        return keys.sorted()
    }

    public func delete(_ key: String) async throws {
        try StorageError.validate(key)
        _ = try await runBlocking { try self.send("DELETE", key: key, allowedStatuses: [404]) }
    }

    public func writer(for key: String) async throws -> any StorageWriter {
        try StorageError.validate(key)
        return S3Writer(backend: self, key: key)
    }

    // MARK: - Multipart upload

    /// Bodies are bytes; without this libcurl labels a body as a form, which some stores then drop.
    static let binary = [("Content-Type", "application/octet-stream")]

    func startMultipartUpload(_ key: String) throws -> String {
        var body: [UInt8] = []
        try send("POST", key: key, query: [("uploads", "")], headers: Self.binary, payload: []) {
            body.append(contentsOf: $0)
        }
        guard let id = S3XML(body)?.first("InitiateMultipartUploadResult/UploadId"), !id.isEmpty else {
            throw S3Error(
                status: 200, code: "MalformedXML", message: "no UploadId", requestID: nil,
                operation: "POST s3://\(configuration.bucket)/\(objectKey(key))?uploads")
        }
        return id
    }

    func uploadPart(_ key: String, uploadID: String, number: Int, bytes: [UInt8]) throws -> String {
        let response = try send(
            "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], headers: Self.binary,
            payload: bytes)
        guard let etag = response.header("etag") else {
            throw S3Error(
                status: response.status, code: "MissingETag", message: "part \(number) has no ETag", requestID: nil,
                operation: "PUT part")
        }
        return etag
    }

    func completeMultipartUpload(_ key: String, uploadID: String, etags: [String]) throws {
        let parts = etags.enumerated().map {
            "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\($0.element)</ETag></Part>"
        }
        let document = "<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>"
        var body: [UInt8] = []
        let xml = [("Content-Type", "application/xml")]
        try send("POST", key: key, query: [("uploadId", uploadID)], headers: xml, payload: Array(document.utf8)) {
            body.append(contentsOf: $0)
        }
        // CompleteMultipartUpload can answer 200 with an error document.
        if let error = S3Error(
            document: body, status: 200, operation: "complete s3://\(configuration.bucket)/\(objectKey(key))")
        {
            throw error
        }
    }

    func abortMultipartUpload(_ key: String, uploadID: String) {
        _ = try? send("DELETE", key: key, query: [("uploadId", uploadID)], allowedStatuses: [404])
    }
}

/// An object being written to S3: one PUT when small, a multipart upload past the threshold.
///
/// Parts go up on up to `concurrency` threads at once while the caller goes on writing; the
/// caller waits when that many are in flight, so memory stays near `concurrency` parts.
final class S3Writer: StorageWriter {
    let backend: S3Backend
    let key: String
    private var buffer: [UInt8] = []
    private var uploadID: String?
    private var partCount = 0
    private var committed = false
    private let uploads = DispatchGroup()
    private let slots: DispatchSemaphore
    /// What the part uploads, on other threads, report back.
    private struct Parts {
        var etags: [Int: String] = [:]
        var failure: (any Error)?
    }
    private let parts = Locked(Parts())

    init(backend: S3Backend, key: String) {
        self.backend = backend
        self.key = key
        slots = DispatchSemaphore(value: max(1, backend.configuration.concurrency))
    }

    deinit {
        uploads.wait()
        if !committed, let uploadID { backend.abortMultipartUpload(key, uploadID: uploadID) }
    }

    /// Starts uploading the next part on another thread, after waiting for a free slot.
    private func send(part: [UInt8], uploadID: String) throws {
        if let error = parts.withLock({ $0.failure }) { throw error }
        partCount += 1
        let number = partCount
        slots.wait()
        uploads.enter()
        let shared = UnsafeSendable(self)
        DispatchQueue.global().async {
            let writer = shared.value
            defer {
                writer.slots.signal()
                writer.uploads.leave()
            }
            do {
                let etag = try writer.backend.uploadPart(writer.key, uploadID: uploadID, number: number, bytes: part)
                writer.parts.withLock { $0.etags[number] = etag }
            } catch {
                writer.parts.withLock { $0.failure = $0.failure ?? error }
            }
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        let partSize = backend.configuration.partSize
        if uploadID == nil, buffer.count > backend.configuration.multipartThreshold {
            uploadID = try backend.startMultipartUpload(key)
        }
        guard let uploadID else { return }
        var start = 0
        while buffer.count - start >= partSize {
            try send(part: Array(buffer[start..<(start + partSize)]), uploadID: uploadID)
            start += partSize
        }
        // One move of the remainder per call, not one per part.
        if start > 0 { buffer.removeFirst(start) }
    }

    func commit() throws {
        defer { committed = true }
        guard let uploadID else {
            try backend.send("PUT", key: key, headers: S3Backend.binary, payload: buffer)
            return
        }
        do {
            if !buffer.isEmpty || partCount == 0 {
                try send(part: buffer, uploadID: uploadID)
                buffer = []
            }
            uploads.wait()
            let (failure, etags) = parts.withLock { ($0.failure, $0.etags) }
            if let failure { throw failure }
            let ordered = (1...partCount).compactMap { etags[$0] }
            try backend.completeMultipartUpload(key, uploadID: uploadID, etags: ordered)
        } catch {
            uploads.wait()
            backend.abortMultipartUpload(key, uploadID: uploadID)
            throw error
        }
    }
}
