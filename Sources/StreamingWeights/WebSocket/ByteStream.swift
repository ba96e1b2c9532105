/// A connected byte stream a WebSocket runs over: a plain TCP socket or TLS on top of one.
///
/// One thread may read while another writes; reads are not concurrent with each other, nor
/// writes with each other (``WebSocketConnection`` serializes them).
public protocol ByteStream: AnyObject, Sendable {
    /// Reads what is available into `buffer`, waiting for at least one byte up to the read
    /// timeout; 0 when the peer closed.
    ///
    /// - Throws: a failure naming the operation and the reason, including a timeout (`EAGAIN`).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Waits up to `timeout` seconds for input, or for the peer to close; false if none came.
    func waitForInput(timeout: Double) throws -> Bool
    /// Writes all of `header`, then all of `body`, waiting up to the write timeout for room.
    func write(_ header: [UInt8], _ body: UnsafeRawBufferPointer) throws
    /// Sets how long a read or write may wait (`nil`: without limit).
    func setTimeouts(read: Double?, write: Double?)
    /// Shuts the stream down: a thread blocked in a read or write returns, later calls fail.
    func close()
}

extension ByteStream {
    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write([], $0) }
    }

    /// Reads what is available, up to 64 KiB; empty when the peer closed.
    public func read() throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: 64 * 1024) { buffer, initialized in
            initialized = 0
            initialized = try read(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }
}

extension POSIXSocket: ByteStream {}
