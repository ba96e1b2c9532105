import Foundation

/// Temporary credentials from the services that hand them to code running on AWS: the ECS
/// container credentials endpoint and the EC2 instance metadata service (IMDSv2).
///
/// - Container: `AWS_CONTAINER_CREDENTIALS_FULL_URI` (or `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
///   under `http://169.254.170.2`), with `AWS_CONTAINER_AUTHORIZATION_TOKEN` (or the file named by
///   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`) as the `Authorization` header.
/// - IMDSv2: a session token from `PUT /latest/api/token`, then the role name from
///   `GET /latest/meta-data/iam/security-credentials/` and the credentials from that path plus the
///   role, at `AWS_EC2_METADATA_SERVICE_ENDPOINT` (default `http://169.254.169.254`); skipped when
///   `AWS_EC2_METADATA_DISABLED=true`.
/// Both answer `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}`.
enum InstanceMetadataCredentials {
    /// Seconds to wait for a metadata service: short, since off AWS nothing answers.
    static let timeout = 2

    /// The container's credentials, or `nil` when no container endpoint is configured.
    static func container(environment: [String: String]) throws -> AWSCredentials? {
        let url: String
        if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            url = full
        } else if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            url = "http://169.254.170.2" + relative
        } else {
            return nil
        }
        var headers: [(String, String)] = []
        if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            headers.append(("Authorization", token))
        } else if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
            let token = FileManager.default.contents(atPath: file)
        {
            headers.append(
                (
                    "Authorization",
                    String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                ))
        }
        let body = try fetch(HTTPRequest(url: url, headers: headers, connectTimeout: timeout, stallTimeout: timeout))
        return try credentials(from: body, source: "the container credentials endpoint \(url)")
    }

    /// The instance's role credentials, or `nil` when IMDS is disabled or does not answer.
    static func instance(environment: [String: String]) throws -> AWSCredentials? {
        guard environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" else { return nil }
        var endpoint =
            environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        let tokenRequest = HTTPRequest(
            method: "PUT", url: endpoint + "/latest/api/token",
            headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
            body: [], connectTimeout: timeout, stallTimeout: timeout)
        let token: String
        do {
            token = String(decoding: try fetch(tokenRequest), as: UTF8.self)
        } catch is HTTPError {
            return nil  // No metadata service here: not on EC2.
        }
        let headers = [("X-aws-ec2-metadata-token", token)]
        let base = endpoint + "/latest/meta-data/iam/security-credentials/"
        let roles = String(
            decoding: try fetch(
                HTTPRequest(url: base, headers: headers, connectTimeout: timeout, stallTimeout: timeout)), as: UTF8.self
        )
        guard let role = roles.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
            throw AWSCredentialError.metadata(source: base, problem: "the instance has no IAM role")
        }
        let body = try fetch(
            HTTPRequest(url: base + role, headers: headers, connectTimeout: timeout, stallTimeout: timeout))
        return try credentials(from: body, source: "the instance metadata service (role \(role))")
    }

    private static func fetch(_ request: HTTPRequest) throws -> [UInt8] {
        let (response, body) = try HTTPClient.data(request, limit: 1 << 20)
        guard response.status == 200 else {
            throw AWSCredentialError.metadata(source: request.url, problem: "it answered HTTP \(response.status)")
        }
        return body
    }

    static func credentials(from body: [UInt8], source: String) throws -> AWSCredentials {
        guard let object = try? body.withUnsafeBytes({ try JSONParser.parse($0) }).objectValue,
            let key = object["AccessKeyId"]?.stringValue, let secret = object["SecretAccessKey"]?.stringValue
        else {
            throw AWSCredentialError.metadata(
                source: source, problem: "the answer has no AccessKeyId and SecretAccessKey")
        }
        let expiration = object["Expiration"]?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret,
            sessionToken: object["Token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            expiration: expiration, source: source)
    }
}

/// Credentials that renew themselves: temporary ones are fetched again five minutes before they expire.
public final class RefreshingCredentials: Sendable {
    /// How long before expiry credentials are renewed.
    public static let refreshMargin: TimeInterval = 300

    private let cached: Locked<AWSCredentials>
    private let fetch: @Sendable () throws -> AWSCredentials
    private let clock: @Sendable () -> Date

    public init(
        initial: AWSCredentials, clock: @escaping @Sendable () -> Date = { Date() },
        fetch: @escaping @Sendable () throws -> AWSCredentials
    ) {
        cached = Locked(initial)
        self.fetch = fetch
        self.clock = clock
    }

    /// The current credentials, renewed first if they expire within ``refreshMargin``.
    public func current() throws -> AWSCredentials {
        try cached.withLock { cached in
            if let expiration = cached.expiration, expiration.timeIntervalSince(clock()) < Self.refreshMargin {
                cached = try fetch()
            }
            return cached
        }
    }
}
