/// This package's version, as the command-line tools' `--version` prints it.
public enum StreamingWeightsVersion {
    public static let string = "0.1.0"
}
