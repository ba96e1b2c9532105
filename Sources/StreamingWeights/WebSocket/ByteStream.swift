/// A connected byte stream a WebSocket runs over: a plain TCP socket or TLS on top of one.
public protocol ByteStream: AnyObject, Sendable {
    /// Reads up to `count` bytes; empty when the peer closed.
    func read(upTo count: Int) throws -> [UInt8]
    /// Writes `header` then `body`.
    func write(_ header: [UInt8], _ body: [UInt8]) throws
    /// Sets how long a read or write may block.
    func setTimeouts(read: Double?, write: Double?)
    /// Closes the stream; a blocked read returns.
    func close()
}

extension ByteStream {
    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws { try write(bytes, []) }
    /// Reads what is available, up to 64 KiB.
    public func read() throws -> [UInt8] { try read(upTo: 64 * 1024) }
}

extension POSIXSocket: ByteStream {}
