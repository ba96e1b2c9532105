/// An S3 request that failed, with what S3 said and what to do about it.
public struct S3Error: Error, Hashable, CustomStringConvertible {
    /// The HTTP status.
    public let status: Int
    /// S3's error code (`NoSuchBucket`, `SignatureDoesNotMatch`, ...), or `HTTP <status>` when
    /// the response had no error document.
    public let code: String
    public let message: String
    public let requestID: String?
    /// `METHOD s3://bucket/key`.
    public let operation: String

    public init(status: Int, code: String, message: String, requestID: String?, operation: String) {
        self.status = status
        self.code = code
        self.message = message
        self.requestID = requestID
        self.operation = operation
    }

    /// The error an S3 error document (`<Error><Code>...`) in `body` describes, or `nil` when
    /// `body` is not one.
    init?(document body: [UInt8], status: Int, operation: String) {
        guard let xml = S3XML(body), let code = xml.first("Error/Code") else { return nil }
        self.init(
            status: status, code: code, message: xml.first("Error/Message") ?? "",
            requestID: xml.first("Error/RequestId"), operation: operation)
    }

    /// What a person can do about the error, when the code says.
    public var advice: String? {
        switch code {
        case "SignatureDoesNotMatch": "check the secret key, and that this machine's clock is right"
        case "InvalidAccessKeyId": "check the access key id (and --s3-endpoint: the key may belong to another store)"
        case "AccessDenied":
            "the credentials are valid but not allowed to do this: check the bucket policy and the user's permissions"
        case "NoSuchBucket": "check the bucket name and the region"
        case "NoSuchKey": "the object does not exist"
        case "RequestTimeTooSkewed":
            "this machine's clock differs from the server's by more than 15 minutes: fix the clock"
        case "ExpiredToken", "TokenRefreshRequired": "the session token has expired: refresh the credentials"
        case "PermanentRedirect", "AuthorizationHeaderMalformed": "the bucket is in another region: pass --s3-region"
        case "SlowDown": "S3 is throttling requests: retry later or lower the concurrency"
        default: nil
        }
    }

    public var description: String {
        var text = "\(operation) failed: \(code)"
        if !message.isEmpty { text += " (\(message))" }
        if let advice { text += "; \(advice)" }
        if let requestID { text += " [request \(requestID)]" }
        return text
    }

    /// Whether trying again may succeed: server errors and throttling.
    var isRetryable: Bool {
        [500, 502, 503, 504].contains(status)
            || ["SlowDown", "Throttling", "RequestTimeout", "InternalError"].contains(code)
    }
}
