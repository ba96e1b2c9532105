import CZlib

/// Compresses a byte stream into gzip format (RFC 1952) piece by piece, so that `gzip -d`
/// restores it and no more than one output block is held at a time.
public final class GzipCompressor {
    /// The size of the output blocks handed to the sink.
    public static let outputBlockSize = 256 * 1024

    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// Starts a gzip stream.
    ///
    /// - Parameter level: 1 (fastest) to 9 (smallest); 6 is gzip's default.
    /// - Throws: ``GzipError/initializationFailed(_:)``.
    public init(level: Int32 = 6) throws {
        precondition((1...9).contains(level), "gzip level must be 1 to 9")
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: Self.outputBlockSize, alignment: 16)
        // 15 window bits, plus 16 for a gzip header and trailer instead of zlib's.
        let result = czlib_deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
        guard result == Z_OK else {
            stream.deallocate()
            output.deallocate()
            throw GzipError.initializationFailed(result)
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    /// Compresses `input`, handing any finished output blocks to `sink`.
    public func compress(_ input: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished, "compress after finish")
        try ZlibInput.forEachSlice(of: input) { base, count in
            stream.pointee.next_in = base
            stream.pointee.avail_in = count
            while stream.pointee.avail_in > 0 {
                try run(flush: Z_NO_FLUSH, into: sink)
            }
        }
    }

    /// Writes the end of the stream (pending data and the CRC-32 and size trailer) to `sink`.
    public func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished, "finish twice")
        finished = true
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        while try run(flush: Z_FINISH, into: sink) != Z_STREAM_END {}
    }

    @discardableResult
    private func run(flush: Int32, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int32 {
        stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = UInt32(output.count)
        let result = deflate(stream, flush)
        guard result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR else {
            throw GzipError.corrupt(ZlibInput.message(of: stream, code: result))
        }
        let produced = output.count - Int(stream.pointee.avail_out)
        if produced > 0 {
            try sink(UnsafeRawBufferPointer(rebasing: output[..<produced]))
        }
        return result
    }
}

/// Helpers shared by the compressor and decompressor.
enum ZlibInput {
    /// zlib counts input in 32-bit units: feed larger buffers in slices.
    static func forEachSlice(
        of input: UnsafeRawBufferPointer,
        _ body: (UnsafeMutablePointer<UInt8>, UInt32) throws -> Void
    ) rethrows {
        guard let base = input.baseAddress else { return }
        let sliceSize = 1 << 30
        var offset = 0
        while offset < input.count {
            let count = min(sliceSize, input.count - offset)
            try body(UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: UInt8.self)), UInt32(count))
            offset += count
        }
    }

    /// zlib's message for the last error, or its code.
    static func message(of stream: UnsafeMutablePointer<z_stream>, code: Int32) -> String {
        if let message = stream.pointee.msg { return String(cString: message) }
        return "zlib error \(code)"
    }
}
