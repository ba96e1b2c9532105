import ArgumentParser
import StreamingWeights

@main
struct Chunker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunker",
        abstract: "Split a Hugging Face BERT-family model into one safetensors file per component.",
        discussion: """
            Writes embeddings, each encoder layer and the pooler as separate chunks, plus the \
            model's config and tokenizer files and a manifest (chunk_info.json) with a SHA-256 \
            hash per file, to a local directory or an S3 bucket.
            """
    )

    @Argument(help: "A model directory, a name under $STREAMING_WEIGHTS_MODELS or ./Fixtures, or a Hugging Face id.")
    var model: String

    @Option(help: "The directory to write the chunks to.")
    var outputDir: String?

    @Flag(help: "Store each chunk gzip-compressed as NAME.safetensors.gz.")
    var compress = false

    @Option(help: "Convert floating-point weights to float32, float16 or bfloat16 (default: keep the source dtype).")
    var dtype: String?

    @Flag(help: "Never download: resolve the model from local folders and the Hugging Face cache only.")
    var offline = false

    @Flag(help: "Log each step.")
    var verbose = false

    @OptionGroup(title: "S3")
    var s3: S3Options

    func validate() throws {
        if s3.s3 {
            guard s3.s3Bucket != nil else { throw ValidationError("--s3 needs --s3-bucket.") }
            guard outputDir == nil else { throw ValidationError("Give either --output-dir or --s3, not both.") }
        } else if outputDir == nil {
            throw ValidationError("Give --output-dir DIR, or --s3 with --s3-bucket.")
        }
        if let dtype, !["float32", "float16", "bfloat16"].contains(dtype) {
            throw ValidationError("--dtype must be float32, float16 or bfloat16, not '\(dtype)'.")
        }
    }

    func run() async throws {
        throw NotImplementedYet(command: Self.configuration.commandName ?? "chunker")
    }
}

struct S3Options: ParsableArguments {
    @Flag(help: "Write to S3 instead of a local directory.")
    var s3 = false

    @Option(help: "The S3 bucket.")
    var s3Bucket: String?

    @Option(help: "The key prefix inside the bucket.")
    var s3Prefix: String?

    @Option(help: "The bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION or the profile's).")
    var s3Region: String?

    @Option(help: "The endpoint of an S3-compatible store, such as http://127.0.0.1:8333.")
    var s3Endpoint: String?

    @Option(help: "The access key id. Visible to other users of this machine: prefer the environment or a profile.")
    var s3AccessKey: String?

    @Option(help: "The secret access key. Visible to other users of this machine: prefer the environment or a profile.")
    var s3SecretKey: String?

    @Option(help: "The profile in ~/.aws/credentials and ~/.aws/config to use.")
    var s3Profile: String?
}

struct NotImplementedYet: Error, CustomStringConvertible {
    let command: String
    var description: String { "\(command) is not implemented yet." }
}
