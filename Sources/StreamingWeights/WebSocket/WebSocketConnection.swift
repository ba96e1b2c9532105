import Foundation

/// One open WebSocket connection, from either side, over a blocking socket.
///
/// ``receive()`` returns the next data message and deals with the rest on the way: it answers
/// pings with pongs, completes the closing handshake, and closes with the RFC's code (1002,
/// 1007, 1009) on a protocol violation. Sending is safe from several threads; a large message
/// goes out in fragments of ``fragmentSize`` so control frames are never stuck behind it.
public final class WebSocketConnection: @unchecked Sendable {
    /// A data message.
    public enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    /// The size of the fragments a large message is sent in.
    public static let fragmentSize = 1 << 20

    public let socket: any ByteStream
    /// Whether this side masks its frames (a client does, a server does not).
    public let masksFrames: Bool
    private var decoder: WebSocketFrameDecoder
    private var assembler: WebSocketMessageAssembler
    private var pending: [WebSocketFrame] = []
    private var pendingIndex = 0
    /// Bytes that arrived with the handshake, decoded by the first ``receive()``.
    private var buffered: [UInt8]
    private let writeLock = NSLock()
    private var closeSent = false
    /// The close code and reason the peer sent, once it has.
    public private(set) var peerClose: (code: UInt16?, reason: String)?

    init(socket: any ByteStream, isServer: Bool, maximumFrameSize: Int, maximumMessageSize: Int, buffered: [UInt8]) {
        self.socket = socket
        masksFrames = !isServer
        decoder = WebSocketFrameDecoder(expectsMasked: isServer, maximumFrameSize: maximumFrameSize)
        assembler = WebSocketMessageAssembler(maximumMessageSize: maximumMessageSize)
        self.buffered = buffered
    }

    /// The next data message, or `nil` once the connection is closed (by either side, or for a
    /// protocol violation, which is answered with its close code first).
    public func receive() throws -> Message? {
        while true {
            if pendingIndex == pending.count {
                var bytes: [UInt8] = []
                swap(&bytes, &buffered)
                do {
                    if bytes.isEmpty { bytes = try socket.read() }
                } catch {
                    socket.close()
                    throw error
                }
                guard !bytes.isEmpty else {
                    socket.close()
                    return nil
                }
                do {
                    pending = try decoder.decode(bytes)
                    pendingIndex = 0
                } catch let violation as WebSocketError {
                    fail(violation)
                    return nil
                }
                continue
            }
            let frame = pending[pendingIndex]
            pendingIndex += 1
            let event: WebSocketMessageAssembler.Event?
            do {
                event = try assembler.receive(frame)
            } catch let violation as WebSocketError {
                fail(violation)
                return nil
            }
            switch event {
            case .text(let text)?: return .text(text)
            case .binary(let bytes)?: return .binary(bytes)
            case .ping(let payload)?: try? send(frame: WebSocketFrame(opcode: .pong, payload: payload))
            case .pong?, nil: continue
            case .close(let code, let reason)?:
                peerClose = (code, reason)
                close(code: code ?? 1000, reason: "")
                return nil
            }
        }
    }

    /// Sends a text message.
    public func send(text: String) throws {
        try send(message: Array(text.utf8), opcode: .text)
    }

    /// Sends a binary message, in fragments when it is large.
    public func send(binary: [UInt8]) throws {
        try send(message: binary, opcode: .binary)
    }

    private func send(message: [UInt8], opcode: WebSocketFrame.Opcode) throws {
        var offset = 0
        repeat {
            let end = min(offset + Self.fragmentSize, message.count)
            let frame = WebSocketFrame(
                fin: end == message.count, opcode: offset == 0 ? opcode : .continuation,
                payload: Array(message[offset..<end]))
            try send(frame: frame)
            offset = end
        } while offset < message.count
    }

    func send(frame: WebSocketFrame) throws {
        let bytes = frame.encoded(
            maskingKey: masksFrames
                ? (
                    UInt8.random(in: 0...255), UInt8.random(in: 0...255), UInt8.random(in: 0...255),
                    UInt8.random(in: 0...255)
                ) : nil)
        try writeLock.withLock {
            guard !closeSent else { throw POSIXSocket.Failure(operation: "send on a closed WebSocket", code: EPIPE) }
            if frame.opcode == .close { closeSent = true }
            try socket.write(bytes)
        }
    }

    /// Sends a close frame (once) and closes the socket.
    public func close(code: UInt16 = 1000, reason: String = "") {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
        if code == 1005 { payload = [] }
        try? send(frame: WebSocketFrame(opcode: .close, payload: payload))
        socket.close()
    }

    private func fail(_ violation: WebSocketError) {
        close(code: violation.closeCode, reason: violation.description)
    }
}
