import ArgumentParser
import Foundation
import Logging
import StreamingWeights

/// How an S3 store is reached: region, endpoint and credentials, the same for every tool.
///
/// `chunker --s3`, `weight-server --s3` and `infer --source s3://` all build their backend
/// through ``backend(bucket:prefix:logger:)``: one credential chain, one endpoint rule
/// (``S3Endpoint``).
public struct S3AccessOptions: ParsableArguments {
    @Option(help: "The bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, else us-east-1).")
    public var s3Region: String?

    @Option(
        help:
            "The endpoint of an S3-compatible store, such as http://127.0.0.1:8333 (path-style addressing; default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS)."
    )
    public var s3Endpoint: String?

    @Option(help: "The access key id. Visible to other users of this machine: prefer the environment or a profile.")
    public var s3AccessKey: String?

    @Option(help: "The secret access key. Visible to other users of this machine: prefer the environment or a profile.")
    public var s3SecretKey: String?

    @Option(help: "The profile in ~/.aws/credentials and ~/.aws/config to use.")
    public var s3Profile: String?

    public init() {}

    /// The AWS credential chain these options describe.
    public var chain: AWSCredentialChain {
        AWSCredentialChain(accessKey: s3AccessKey, secretKey: s3SecretKey, profile: s3Profile, region: s3Region)
    }

    /// Warns `logger` when keys were given on the command line.
    func warnAboutKeys(_ logger: Logger) {
        if s3AccessKey != nil || s3SecretKey != nil {
            logger.warning(
                "keys given on the command line are visible to other users of this machine (ps); prefer AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
            )
        }
    }

    /// The backend for `bucket`/`prefix`, as ``S3Backend/init(bucket:prefix:endpoint:chain:)``
    /// builds it; `logger` is warned of keys given on the command line.
    ///
    /// - Throws: ``S3ConfigurationError`` for an unusable endpoint, ``AWSCredentialError``
    ///   when no credentials are found.
    public func backend(bucket: String, prefix: String, logger: Logger) throws -> S3Backend {
        warnAboutKeys(logger)
        return try S3Backend(bucket: bucket, prefix: prefix, endpoint: s3Endpoint, chain: chain)
    }
}

/// The S3 options `chunker` and `weight-server` share (the Python tool's flags).
public struct S3Options: ParsableArguments {
    @Flag(help: "Use an S3 bucket instead of a local directory.")
    public var s3 = false

    @Option(help: "The S3 bucket.")
    public var s3Bucket: String?

    @Option(help: "The key prefix inside the bucket.")
    public var s3Prefix: String?

    @OptionGroup
    public var access: S3AccessOptions

    public init() {}

    /// The backend these options describe.
    ///
    /// - Throws: `ValidationError` without a bucket, then what
    ///   ``S3AccessOptions/backend(bucket:prefix:logger:)`` throws.
    public func backend(logger: Logger) throws -> S3Backend {
        guard let bucket = s3Bucket else { throw ValidationError("--s3 needs --s3-bucket.") }
        return try access.backend(bucket: bucket, prefix: s3Prefix ?? "", logger: logger)
    }
}
