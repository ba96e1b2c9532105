/// A gzip stream that could not be read or written.
public enum GzipError: Error, Hashable, CustomStringConvertible {
    /// The stream ended before its last member's trailer.
    case truncated(decompressedByteCount: Int)
    /// zlib found the data malformed; its message says how.
    case corrupt(String)
    /// The output grew past the limit the caller set (a guard against decompression bombs).
    case outputTooLarge(limit: Int)
    /// zlib could not start (out of memory).
    case initializationFailed(Int32)

    public var description: String {
        switch self {
        case .truncated(let count):
            "the gzip stream is truncated: it ended after \(count) decompressed bytes, before its trailer"
        case .corrupt(let message):
            "the gzip stream is corrupt: \(message)"
        case .outputTooLarge(let limit):
            "the gzip stream decompresses to more than the \(limit)-byte limit"
        case .initializationFailed(let code):
            "zlib could not start (error \(code))"
        }
    }
}
