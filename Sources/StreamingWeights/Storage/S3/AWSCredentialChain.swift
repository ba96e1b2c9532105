import Foundation

/// Finds AWS credentials and the region the way the AWS command line tools do.
///
/// In order: explicit keys (the command line); the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); the shared files (`~/.aws/credentials` or
/// `AWS_SHARED_CREDENTIALS_FILE`, and `~/.aws/config` or `AWS_CONFIG_FILE`) for the profile
/// named by the argument, `AWS_PROFILE`, or `default`; the ECS container credentials endpoint;
/// the EC2 instance metadata service (``InstanceMetadataCredentials``). The region: the argument,
/// `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`.
///
/// A profile someone named (the argument or `AWS_PROFILE`) must exist and hold keys: otherwise
/// the chain stops there with an error listing the profiles the files hold, rather than going on
/// to the metadata services with other credentials. A profile named by the argument also wins
/// over the environment's keys, as in botocore; `AWS_PROFILE` does not.
public struct AWSCredentialChain: Sendable {
    public var explicitAccessKey: String?
    public var explicitSecretKey: String?
    public var profile: String?
    public var region: String?
    public var environment: [String: String]

    public init(
        accessKey: String? = nil,
        secretKey: String? = nil,
        profile: String? = nil,
        region: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        explicitAccessKey = accessKey
        explicitSecretKey = secretKey
        self.profile = profile
        self.region = region
        self.environment = environment
    }

    /// The profile someone named, by the argument or `AWS_PROFILE`, and which of the two named it.
    private var namedProfile: (name: String, origin: String)? {
        if let profile, !profile.isEmpty { return (profile, "--s3-profile") }
        if let profile = environment["AWS_PROFILE"], !profile.isEmpty { return (profile, "AWS_PROFILE") }
        return nil
    }

    private var profileName: String { namedProfile?.name ?? "default" }

    private func path(_ variable: String, default file: String) -> String {
        if let path = environment[variable], !path.isEmpty { return path }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".aws/" + file)
    }

    /// The credentials, from the first place that has them.
    ///
    /// - Throws: ``AWSCredentialError`` listing every place looked at when none has them, or
    ///   naming the half of a key pair that is missing.
    public func credentials() throws -> AWSCredentials {
        switch (explicitAccessKey, explicitSecretKey) {
        case (let key?, let secret?):
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, source: "the command line")
        case (nil, nil):
            break
        default:
            throw AWSCredentialError.incomplete(
                source: "the command line", missing: explicitAccessKey == nil ? "--s3-access-key" : "--s3-secret-key")
        }
        let profileGiven = profile.map { !$0.isEmpty } ?? false
        let environmentKeys: (String?, String?) =
            profileGiven ? (nil, nil) : (environment["AWS_ACCESS_KEY_ID"], environment["AWS_SECRET_ACCESS_KEY"])
        switch environmentKeys {
        case (let key?, let secret?) where !key.isEmpty && !secret.isEmpty:
            return AWSCredentials(
                accessKeyID: key,
                secretAccessKey: secret,
                sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 },
                source: "the environment"
            )
        case (nil, nil):
            break
        default:
            throw AWSCredentialError.incomplete(
                source: "the environment",
                missing: environment["AWS_ACCESS_KEY_ID"] == nil ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"
            )
        }
        let credentialsFile = path("AWS_SHARED_CREDENTIALS_FILE", default: "credentials")
        let configFile = path("AWS_CONFIG_FILE", default: "config")
        var holding: [String] = []
        for (file, section) in [
            (credentialsFile, profileName),
            (configFile, profileName == "default" ? "default" : "profile " + profileName),
        ] {
            guard let values = try Self.section(section, inFile: file) else { continue }
            holding.append(file)
            if let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] {
                return AWSCredentials(
                    accessKeyID: key,
                    secretAccessKey: secret,
                    sessionToken: values["aws_session_token"],
                    source: "profile \(profileName) in \(file)"
                )
            }
        }
        if let (name, origin) = namedProfile {
            guard !holding.isEmpty else {
                throw AWSCredentialError.profileNotFound(
                    name, origin: origin,
                    files: [
                        (credentialsFile, Self.profiles(inFile: credentialsFile, configStyle: false)),
                        (configFile, Self.profiles(inFile: configFile, configStyle: true)),
                    ].map { AWSCredentialError.ProfileFile(path: $0.0, profiles: $0.1) })
            }
            throw AWSCredentialError.profileWithoutKeys(name, files: holding)
        }
        if let container = try InstanceMetadataCredentials.container(environment: environment) { return container }
        if let instance = try InstanceMetadataCredentials.instance(environment: environment) { return instance }
        throw AWSCredentialError.notFound(tried: [
            "--s3-access-key and --s3-secret-key", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            "profile \(profileName) in \(credentialsFile) and \(configFile)",
            "the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)",
            "the EC2 instance metadata service",
        ])
    }

    /// Credentials that renew themselves when they are temporary (from a metadata service).
    public func refreshingCredentials() throws -> RefreshingCredentials {
        let chain = self
        return RefreshingCredentials(initial: try credentials()) { try chain.credentials() }
    }

    /// The region to use.
    public func resolvedRegion() throws -> String {
        if let region, !region.isEmpty { return region }
        for variable in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let region = environment[variable], !region.isEmpty { return region }
        }
        let section = profileName == "default" ? "default" : "profile " + profileName
        if let region = try Self.section(section, inFile: path("AWS_CONFIG_FILE", default: "config"))?["region"] {
            return region
        }
        return "us-east-1"
    }

    /// The profile names in an AWS file (`[name]` in the credentials file, `[profile name]` and
    /// `[default]` in the config file), or `nil` when the file does not exist.
    static func profiles(inFile path: String, configStyle: Bool) -> [String]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { rawLine in
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("["), line.hasSuffix("]") else { return nil }
            let name = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
            guard configStyle, name != "default" else { return name }
            guard name.hasPrefix("profile ") else { return nil }
            return String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces)
        }
    }

    /// The `key = value` pairs of `[section]` in an INI-style AWS file, or `nil` when the file
    /// or the section does not exist.
    static func section(_ name: String, inFile path: String) throws -> [String: String]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var current: String?
        var values: [String: String]?
        for rawLine in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if current == name { values = values ?? [:] }
                continue
            }
            guard current == name, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            values?[key] = value
        }
        return values
    }
}

/// No usable AWS credentials.
public enum AWSCredentialError: Error, Hashable, CustomStringConvertible {
    /// An AWS file that was read, and the profiles it holds (`nil` when it does not exist).
    public struct ProfileFile: Hashable, Sendable {
        public let path: String
        public let profiles: [String]?

        public init(path: String, profiles: [String]?) {
            self.path = path
            self.profiles = profiles
        }
    }

    case notFound(tried: [String])
    case incomplete(source: String, missing: String)
    /// A metadata service answered, but not with credentials.
    case metadata(source: String, problem: String)
    /// The profile named (by `origin`: `--s3-profile` or `AWS_PROFILE`) is in neither file.
    case profileNotFound(String, origin: String, files: [ProfileFile])
    /// The profile named exists in `files` but holds no access key pair.
    case profileWithoutKeys(String, files: [String])

    public var description: String {
        switch self {
        case .notFound(let tried):
            "no AWS credentials found; looked at " + tried.joined(separator: "; ")
        case .incomplete(let source, let missing):
            "the AWS credentials from \(source) lack \(missing)"
        case .metadata(let source, let problem):
            "cannot get credentials from \(source): \(problem)"
        case .profileNotFound(let name, let origin, let files):
            "the AWS profile '\(name)' (from \(origin)) does not exist: "
                + files.map { file in
                    guard let profiles = file.profiles else { return "\(file.path) does not exist" }
                    return profiles.isEmpty
                        ? "\(file.path) holds no profiles"
                        : "\(file.path) holds \(profiles.joined(separator: ", "))"
                }.joined(separator: "; ")
        case .profileWithoutKeys(let name, let files):
            "the AWS profile '\(name)' in \(files.joined(separator: " and ")) has no aws_access_key_id and aws_secret_access_key (role_arn, sso_* and credential_process profiles are not supported: export the role's keys to the environment)"
        }
    }
}
