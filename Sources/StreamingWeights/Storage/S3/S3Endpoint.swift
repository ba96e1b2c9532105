import Foundation

/// Where an S3-compatible store is: `http://HOST[:PORT]` or `https://HOST[:PORT]`.
///
/// An endpoint is given on purpose, so one that cannot be used is an error, never a reason to
/// send the request (signed with the user's keys) to AWS instead.
public enum S3Endpoint {
    /// The endpoint to use: `explicit` (`--s3-endpoint`), else `AWS_ENDPOINT_URL_S3`, else
    /// `AWS_ENDPOINT_URL` from `environment`, else `nil` (AWS itself); checked by ``validated(_:origin:)``.
    ///
    /// - Throws: ``S3ConfigurationError/invalidEndpoint(_:origin:)`` naming the value and where it came from.
    public static func resolve(explicit: String?, environment: [String: String]) throws -> String? {
        if let explicit { return try validated(explicit, origin: "--s3-endpoint") }
        for variable in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
            if let value = environment[variable], !value.isEmpty { return try validated(value, origin: variable) }
        }
        return nil
    }

    /// `text` without a trailing `/`, when it is `http://` or `https://` with a host, and at
    /// most a port after it.
    ///
    /// - Throws: ``S3ConfigurationError/invalidEndpoint(_:origin:)``.
    public static func validated(_ text: String, origin: String) throws -> String {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard parse(trimmed) != nil else { throw S3ConfigurationError.invalidEndpoint(text, origin: origin) }
        return trimmed
    }

    /// The scheme and `host[:port]` of a valid endpoint, or `nil`.
    static func parse(_ text: String) -> (scheme: String, host: String)? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            ["http", "https"].contains(scheme), let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.query == nil,
            components.fragment == nil, components.path.isEmpty || components.path == "/"
        else { return nil }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return (scheme, bracketed + (components.port.map { ":\($0)" } ?? ""))
    }
}

/// S3 settings that cannot be used, named before any request is sent.
public enum S3ConfigurationError: Error, Hashable, CustomStringConvertible {
    /// An endpoint that is not `http://` or `https://` with a host; `origin` is the option or
    /// variable it came from.
    case invalidEndpoint(String, origin: String)

    public var description: String {
        switch self {
        case .invalidEndpoint(let value, let origin):
            "the S3 endpoint '\(value)' (from \(origin)) is not http://HOST[:PORT] or https://HOST[:PORT]"
                + (value.contains("://") ? "" : ": write https://\(value), or http://\(value) for a store without TLS")
                + "; nothing was sent"
        }
    }
}
