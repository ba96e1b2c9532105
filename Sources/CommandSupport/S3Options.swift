import ArgumentParser
import Foundation
import Logging
import StreamingWeights

/// The S3 options `chunker` and `weight-server` share (the Python tool's flags).
public struct S3Options: ParsableArguments {
    @Flag(help: "Use an S3 bucket instead of a local directory.")
    public var s3 = false

    @Option(help: "The S3 bucket.")
    public var s3Bucket: String?

    @Option(help: "The key prefix inside the bucket.")
    public var s3Prefix: String?

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

    /// The backend these options describe, as ``S3Backend/init(bucket:prefix:endpoint:chain:)``
    /// builds it; `logger` is warned of keys given on the command line.
    ///
    /// - Throws: ``S3ConfigurationError`` for an unusable endpoint, ``AWSCredentialError``
    ///   when no credentials are found.
    public func backend(logger: Logger) throws -> S3Backend {
        guard let bucket = s3Bucket else { throw ValidationError("--s3 needs --s3-bucket.") }
        if s3AccessKey != nil || s3SecretKey != nil {
            logger.warning(
                "keys given on the command line are visible to other users of this machine (ps); prefer AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
            )
        }
        let chain = AWSCredentialChain(
            accessKey: s3AccessKey, secretKey: s3SecretKey, profile: s3Profile, region: s3Region)
        return try S3Backend(bucket: bucket, prefix: s3Prefix ?? "", endpoint: s3Endpoint, chain: chain)
    }
}
