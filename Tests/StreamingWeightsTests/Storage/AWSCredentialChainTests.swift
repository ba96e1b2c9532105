import Foundation
import StreamingWeights
import Testing

@Suite("Finding AWS credentials as the AWS tools do")
struct AWSCredentialChainTests {
    static func files(credentials: String, config: String) throws -> (TemporaryDirectory, [String: String]) {
        let directory = try TemporaryDirectory()
        try credentials.write(toFile: directory.file("credentials"), atomically: true, encoding: .utf8)
        try config.write(toFile: directory.file("config"), atomically: true, encoding: .utf8)
        return (
            directory,
            [
                "AWS_SHARED_CREDENTIALS_FILE": directory.file("credentials"),
                "AWS_CONFIG_FILE": directory.file("config"), "HOME": "/nonexistent",
            ]
        )
    }

    static let credentialsFile = """
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = default-secret

        [work]
        aws_access_key_id=AKIDWORK
        aws_secret_access_key=work/secret+=
        aws_session_token = work-token
        """
    static let configFile = """
        [default]
        region = eu-west-1

        [profile work]
        region = ap-south-1

        [profile config-only]
        aws_access_key_id = AKIDCONFIG
        aws_secret_access_key = config-secret
        """

    @Test("Explicit keys win over the environment, which wins over the files")
    func order() throws {
        let (directory, files) = try Self.files(credentials: Self.credentialsFile, config: Self.configFile)
        _ = directory
        var environment = files
        environment["AWS_ACCESS_KEY_ID"] = "AKIDENV"
        environment["AWS_SECRET_ACCESS_KEY"] = "env-secret"
        environment["AWS_SESSION_TOKEN"] = "env-token"
        let explicit = try AWSCredentialChain(accessKey: "AKIDARG", secretKey: "arg-secret", environment: environment)
            .credentials()
        #expect(explicit.accessKeyID == "AKIDARG" && explicit.source == "the command line")
        let fromEnvironment = try AWSCredentialChain(environment: environment).credentials()
        #expect(
            fromEnvironment
                == AWSCredentials(
                    accessKeyID: "AKIDENV", secretAccessKey: "env-secret", sessionToken: "env-token",
                    source: "the environment"))
        let fromFile = try AWSCredentialChain(environment: files).credentials()
        #expect(fromFile.accessKeyID == "AKIDDEFAULT" && fromFile.secretAccessKey == "default-secret")
        #expect(fromFile.source == "profile default in \(directory.file("credentials"))")
    }

    @Test("A profile is chosen by argument or AWS_PROFILE, with its region from the config file")
    func profiles() throws {
        let (directory, files) = try Self.files(credentials: Self.credentialsFile, config: Self.configFile)
        _ = directory
        let work = AWSCredentialChain(profile: "work", environment: files)
        #expect(
            try work.credentials()
                == AWSCredentials(
                    accessKeyID: "AKIDWORK", secretAccessKey: "work/secret+=", sessionToken: "work-token",
                    source: "profile work in \(directory.file("credentials"))"))
        #expect(try work.resolvedRegion() == "ap-south-1")
        var environment = files
        environment["AWS_PROFILE"] = "config-only"
        #expect(try AWSCredentialChain(environment: environment).credentials().accessKeyID == "AKIDCONFIG")
        #expect(try AWSCredentialChain(environment: files).resolvedRegion() == "eu-west-1")
        environment["AWS_REGION"] = "us-west-2"
        #expect(try AWSCredentialChain(environment: environment).resolvedRegion() == "us-west-2")
        #expect(try AWSCredentialChain(region: "sa-east-1", environment: environment).resolvedRegion() == "sa-east-1")
    }

    @Test("No credentials anywhere, or half a key pair, is a clear error")
    func missing() throws {
        #expect {
            _ = try AWSCredentialChain(environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"])
                .credentials()
        } throws: { error in
            "\(error)".hasPrefix(
                "no AWS credentials found; looked at --s3-access-key and --s3-secret-key; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; profile default in /nonexistent/.aws/credentials"
            )
        }
        #expect(throws: AWSCredentialError.incomplete(source: "the command line", missing: "--s3-secret-key")) {
            _ = try AWSCredentialChain(accessKey: "AKID", environment: [:]).credentials()
        }
        #expect(throws: AWSCredentialError.incomplete(source: "the environment", missing: "AWS_SECRET_ACCESS_KEY")) {
            _ = try AWSCredentialChain(environment: ["AWS_ACCESS_KEY_ID": "AKID"]).credentials()
        }
        #expect(!"\(AWSCredentials(accessKeyID: "AKID", secretAccessKey: "very-secret"))".contains("very-secret"))
    }

    @Test(
        "A profile someone named must exist and hold keys: the error lists the profiles, and no metadata service is asked"
    )
    func namedProfiles() throws {
        let (directory, files) = try Self.files(
            credentials: Self.credentialsFile,
            config: Self.configFile + """

                [profile sso]
                sso_session = company
                """)
        // Any request to the container or instance metadata service would land here.
        let metadata = try ConnectionRecorder()
        var environment = files
        environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = "http://127.0.0.1:\(metadata.port)"
        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:\(metadata.port)/credentials"
        let expected = AWSCredentialError.profileNotFound(
            "nobody", origin: "--s3-profile",
            files: [
                .init(path: directory.file("credentials"), profiles: ["default", "work"]),
                .init(path: directory.file("config"), profiles: ["default", "work", "config-only", "sso"]),
            ])
        #expect(throws: expected) {
            _ = try AWSCredentialChain(profile: "nobody", environment: environment).credentials()
        }
        #expect(
            "\(expected)"
                == "the AWS profile 'nobody' (from --s3-profile) does not exist: \(directory.file("credentials")) holds default, work; \(directory.file("config")) holds default, work, config-only, sso"
        )
        var viaVariable = environment
        viaVariable["AWS_PROFILE"] = "nobody"
        #expect(throws: AWSCredentialError.self) { _ = try AWSCredentialChain(environment: viaVariable).credentials() }
        #expect(throws: AWSCredentialError.profileWithoutKeys("sso", files: [directory.file("config")])) {
            _ = try AWSCredentialChain(profile: "sso", environment: environment).credentials()
        }
        #expect(metadata.connections.isEmpty, "\(metadata.connections)")
        // Named by the argument, a profile wins over the environment's keys; by AWS_PROFILE it does not.
        environment["AWS_ACCESS_KEY_ID"] = "AKIDENV"
        environment["AWS_SECRET_ACCESS_KEY"] = "env-secret"
        #expect(
            try AWSCredentialChain(profile: "work", environment: environment).credentials().accessKeyID == "AKIDWORK")
        environment["AWS_PROFILE"] = "work"
        #expect(try AWSCredentialChain(environment: environment).credentials().accessKeyID == "AKIDENV")
        // Nothing named, nothing found: the metadata services are asked (and here answer nothing).
        let unnamed = [
            "HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(metadata.port)",
        ]
        #expect(throws: AWSCredentialError.self) { _ = try AWSCredentialChain(environment: unnamed).credentials() }
        #expect(metadata.connections == ["PUT /latest/api/token HTTP/1.1"])
        // AWS_EC2_METADATA_DISABLED=true: not even that.
        var disabled = unnamed
        disabled["AWS_EC2_METADATA_DISABLED"] = "true"
        #expect(throws: AWSCredentialError.self) { _ = try AWSCredentialChain(environment: disabled).credentials() }
        #expect(metadata.connections.count == 1)
    }
}
