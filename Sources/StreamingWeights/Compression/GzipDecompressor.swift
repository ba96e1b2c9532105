import CZlib

/// Decompresses a gzip stream piece by piece, checking each member's CRC-32 and length.
///
/// Concatenated members (what `cat a.gz b.gz` makes) decompress to the concatenated data, as with
/// `gzip -d`. A stream that stops before a member's trailer is an error at ``finish()``.
public final class GzipDecompressor {
    /// The size of the output blocks handed to the sink.
    public static let outputBlockSize = 256 * 1024

    /// The most bytes this decompressor will produce.
    public let maximumOutputSize: Int
    /// The bytes produced so far.
    public private(set) var decompressedByteCount = 0

    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private var insideMember = false
    private var completedMembers = 0

    /// Starts reading a gzip stream.
    ///
    /// - Parameter maximumOutputSize: fail with ``GzipError/outputTooLarge(limit:)`` past this many bytes.
    /// - Throws: ``GzipError/initializationFailed(_:)``.
    public init(maximumOutputSize: Int = .max) throws {
        self.maximumOutputSize = maximumOutputSize
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: Self.outputBlockSize, alignment: 16)
        let result = czlib_inflateInit2(stream, 15 + 16)
        guard result == Z_OK else {
            stream.deallocate()
            output.deallocate()
            throw GzipError.initializationFailed(result)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    /// Decompresses `input`, handing output blocks to `sink`.
    ///
    /// - Throws: ``GzipError`` for corrupt data or output over the limit, or what `sink` throws.
    public func decompress(_ input: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try ZlibInput.forEachSlice(of: input) { base, count in
            stream.pointee.next_in = base
            stream.pointee.avail_in = count
            var outputWasFull = false
            while stream.pointee.avail_in > 0 || outputWasFull {
                if !insideMember {
                    guard stream.pointee.avail_in > 0 else { return }
                    if completedMembers > 0 { inflateReset(stream) }
                    insideMember = true
                }
                stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(output.count)
                let result = inflate(stream, Z_NO_FLUSH)
                let produced = output.count - Int(stream.pointee.avail_out)
                outputWasFull = stream.pointee.avail_out == 0
                if produced > 0 {
                    decompressedByteCount += produced
                    guard decompressedByteCount <= maximumOutputSize else {
                        throw GzipError.outputTooLarge(limit: maximumOutputSize)
                    }
                    try sink(UnsafeRawBufferPointer(rebasing: output[..<produced]))
                }
                switch result {
                case Z_STREAM_END:
                    insideMember = false
                    completedMembers += 1
                case Z_OK:
                    break
                case Z_BUF_ERROR where produced == 0 && stream.pointee.avail_in == 0:
                    return
                default:
                    throw GzipError.corrupt(ZlibInput.message(of: stream, code: result))
                }
            }
        }
    }

    /// Checks that the stream ended cleanly: at least one member, the last one complete.
    ///
    /// - Throws: ``GzipError/truncated(decompressedByteCount:)``.
    public func finish() throws {
        guard !insideMember, completedMembers > 0 else {
            throw GzipError.truncated(decompressedByteCount: decompressedByteCount)
        }
    }
}
