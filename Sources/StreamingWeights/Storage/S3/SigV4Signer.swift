import Foundation

/// AWS Signature Version 4, computed with OpenSSL's SHA-256 and HMAC.
///
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>.
/// For S3 the canonical URI is the object path with each segment percent-encoded once and no
/// `.`/`..` normalisation (S3 keys may contain them); other services normalise the path first.
public struct SigV4Signer: Sendable {
    /// How the path becomes the canonical URI.
    public enum PathRule: Sendable {
        /// S3: segments encoded once, nothing removed.
        case s3
        /// Every other service: `.`, `..` and empty segments resolved first.
        case normalized
    }

    /// What a signature was computed from, for tests and for debugging a mismatch.
    public struct Signature: Sendable {
        /// The headers to add to the request (`Authorization`, `X-Amz-Date`, ...).
        public let headers: [(String, String)]
        public let canonicalRequest: String
        public let stringToSign: String
        public let authorization: String
    }

    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let emptyPayloadHash = Digest.sha256([UInt8]()).hexString

    public let credentials: AWSCredentials
    public let region: String
    public let service: String
    public let pathRule: PathRule

    public init(credentials: AWSCredentials, region: String, service: String = "s3", pathRule: PathRule = .s3) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.pathRule = pathRule
    }

    /// Signs a request.
    ///
    /// - Parameters:
    ///   - path: the decoded path (`/bucket/key with spaces`).
    ///   - query: decoded query parameters.
    ///   - headers: the headers to sign; `host` must be among them.
    ///   - payloadHash: hex SHA-256 of the body, or ``unsignedPayload``.
    ///   - addsContentHash: add `x-amz-content-sha256` (S3 requires it).
    public func sign(
        method: String,
        path: String,
        query: [(String, String)] = [],
        headers: [(String, String)],
        payloadHash: String,
        date: Date = Date(),
        addsContentHash: Bool = true
    ) -> Signature {
        let (amzDate, day) = Self.timestamps(date)
        var signed = headers
        signed.append(("X-Amz-Date", amzDate))
        if addsContentHash { signed.append(("X-Amz-Content-SHA256", payloadHash)) }
        if let token = credentials.sessionToken { signed.append(("X-Amz-Security-Token", token)) }
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(signed)
        let canonicalRequest = [
            method, canonicalURI(path), Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Digest.sha256(Array(canonicalRequest.utf8)).hexString]
            .joined(separator: "\n")
        let signature = Digest.hmacSHA256(key: signingKey(day: day), message: Array(stringToSign.utf8)).hexString
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        let added = signed.suffix(signed.count - headers.count) + [("Authorization", authorization)]
        return Signature(
            headers: Array(added), canonicalRequest: canonicalRequest, stringToSign: stringToSign,
            authorization: authorization)
    }

    /// A presigned URL: the signature in the query string, valid for `expires` seconds, with an
    /// unsigned payload, as S3's query-string authentication defines it.
    public func presignedURL(
        method: String = "GET",
        scheme: String,
        host: String,
        path: String,
        query: [(String, String)] = [],
        expires: Int,
        date: Date = Date()
    ) -> String {
        let (amzDate, day) = Self.timestamps(date)
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        var parameters =
            query + [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"),
                ("X-Amz-Date", amzDate),
                ("X-Amz-Expires", String(expires)),
                ("X-Amz-SignedHeaders", "host"),
            ]
        if let token = credentials.sessionToken { parameters.append(("X-Amz-Security-Token", token)) }
        let canonicalRequest = [
            method, canonicalURI(path), Self.canonicalQuery(parameters), "host:\(host)\n", "host", Self.unsignedPayload,
        ].joined(separator: "\n")
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Digest.sha256(Array(canonicalRequest.utf8)).hexString]
            .joined(separator: "\n")
        let signature = Digest.hmacSHA256(key: signingKey(day: day), message: Array(stringToSign.utf8)).hexString
        return
            "\(scheme)://\(host)\(canonicalURI(path))?\(Self.canonicalQuery(parameters))&X-Amz-Signature=\(signature)"
    }

    /// The key derived from the secret for one day, region and service.
    func signingKey(day: String) -> [UInt8] {
        var key = Digest.hmacSHA256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), message: Array(day.utf8))
        for part in [region, service, "aws4_request"] {
            key = Digest.hmacSHA256(key: key, message: Array(part.utf8))
        }
        return key
    }

    /// `20150830T123600Z` and `20150830`, in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let day = String(format: "%04d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        return (day + String(format: "T%02d%02d%02dZ", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0), day)
    }

    func canonicalURI(_ path: String) -> String {
        Self.canonicalURI(path, rule: pathRule)
    }

    /// The path as it is signed (and, for S3, sent): each segment percent-encoded once; with
    /// the `.normalized` rule, `.`, `..` and empty segments resolved first.
    static func canonicalURI(_ path: String, rule: PathRule) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if rule == .normalized {
            var resolved: [String] = []
            for segment in segments.dropFirst() {
                switch segment {
                case "", ".": continue
                case "..": _ = resolved.popLast()
                default: resolved.append(segment)
                }
            }
            let trailing = path.hasSuffix("/") && !resolved.isEmpty
            segments = [""] + resolved + (trailing ? [""] : [])
            if resolved.isEmpty { return "/" }
        }
        let encoded = segments.map { Self.percentEncode($0) }.joined(separator: "/")
        return encoded.isEmpty ? "/" : encoded
    }

    /// Parameters sorted by encoded name, then value, each encoded with the unreserved set.
    static func canonicalQuery(_ parameters: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = parameters.map { (percentEncode($0.0), percentEncode($0.1)) }
        let sorted = encoded.sorted { left, right in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        return sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// Lower-cased names, values trimmed with inner runs of spaces collapsed, repeated names
    /// joined with commas; sorted by name.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (String, String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
            values[name.lowercased(), default: []].append(trimmed)
        }
        let names = values.keys.sorted()
        let canonical = names.map { "\($0):\(values[$0]?.joined(separator: ",") ?? "")\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// RFC 3986 percent-encoding of everything but `A-Z a-z 0-9 - _ . ~`.
    public static func percentEncode(_ text: String) -> String {
        var result: [UInt8] = []
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            if unreserved[Int(byte)] {
                result.append(byte)
            } else {
                result += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Whether each byte is in RFC 3986's unreserved set.
    private static let unreserved: [Bool] = (0..<256).map { code in
        let byte = UInt8(code)
        return (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte)
            || byte == 0x2d || byte == 0x5f || byte == 0x2e || byte == 0x7e
    }
}
