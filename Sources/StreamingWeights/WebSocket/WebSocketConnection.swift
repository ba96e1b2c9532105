import Foundation

/// One open WebSocket connection, from either side, over a blocking socket.
///
/// ``receive()`` returns the next data message and deals with the rest on the way: it answers
/// pings with pongs, sends keepalive pings, enforces the idle timeout, completes the closing
/// handshake, and closes with the RFC's code (1002, 1007, 1009) on a protocol violation.
/// Sending is safe from several threads: a message goes out whole, in fragments of
/// ``fragmentSize`` so control frames are never stuck behind it, and a send waits (up to
/// ``Timeouts/send``) while the peer is slow to read, so nothing queues up in memory.
public final class WebSocketConnection: @unchecked Sendable {
    /// A data message.
    public enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    /// How long a connection waits, and for what.
    ///
    /// Keepalive and idle timeouts are driven by
    /// ``receive()``, so they apply while someone is receiving (a server's handler, or
    /// ``messages``).
    public struct Timeouts: Sendable {
        /// Seconds without any input before a ping is sent (`nil`: no keepalive pings).
        public var keepaliveInterval: Double? = 20
        /// Seconds to wait for any input after a keepalive ping before the peer counts as
        /// gone: the connection is then closed with 1011 and ``receive()`` throws.
        public var keepaliveTimeout: Double = 20
        /// Seconds without a data message from the peer before closing with 1001 (`nil`: never).
        public var idle: Double?
        /// Seconds to wait for the peer's close frame after sending ours.
        public var close: Double = 5
        /// Seconds a send may wait for a peer that does not read before it fails.
        public var send: Double = 30

        public init() {}
    }

    /// The size of the fragments a large message is sent in.
    public static let fragmentSize = 1 << 20

    public let socket: any ByteStream
    /// Whether this side masks its frames (a client does, a server does not).
    public let masksFrames: Bool
    public let timeouts: Timeouts
    /// The close code and reason the peer sent, once it has.
    public private(set) var peerClose: (code: UInt16?, reason: String)?

    // Read side, owned by whoever holds `readLock`.
    private let readLock = NSLock()
    private var decoder: WebSocketFrameDecoder
    private var assembler: WebSocketMessageAssembler
    private var pending: [WebSocketFrame] = []
    private var pendingIndex = 0
    /// Where the socket is read into (and the bytes that arrived with the handshake are put).
    ///
    /// 64 KiB stays in the CPU's cache between the kernel's copy and ours: with 128 KiB and
    /// 256 KiB buffers, `streaming-weights-bench websocket-throughput` measured 20-30% less.
    private let readBuffer: UnsafeMutableRawBufferPointer
    /// The bytes of `readBuffer` not decoded yet.
    private var unread: Range<Int>
    /// Where the payload of the message arriving now goes, when its observer diverted it, and
    /// the message's size so far and in all.
    private var sink: (destination: any WebSocketPayloadSink, received: Int, size: Int)?
    private var lastInput: Double
    private var lastMessage: Double
    private var keepalivePingSent: Double?
    /// Whether the socket is closed, so ``receive()`` has nothing more to give.
    private var finished = false
    private var observer: (any WebSocketMessageObserver)?

    // Write side: `messageLock` keeps a message's fragments together, `writeLock` a frame's bytes.
    private let messageLock = NSLock()
    private let writeLock = NSLock()
    /// When this side sent its close frame (after it, no data may be sent); behind a lock of
    /// its own, so the read side can look while the write side is blocked on a peer that does
    /// not read.
    private let closeSent = Locked<Double?>(nil)

    init(
        socket: any ByteStream, isServer: Bool, limits: (frame: Int, message: Int), timeouts: Timeouts,
        buffered: [UInt8]
    ) {
        self.socket = socket
        masksFrames = !isServer
        self.timeouts = timeouts
        decoder = WebSocketFrameDecoder(expectsMasked: isServer, maximumFrameSize: limits.frame)
        assembler = WebSocketMessageAssembler(maximumMessageSize: limits.message)
        readBuffer = .allocate(byteCount: max(64 * 1024, buffered.count), alignment: 64)
        readBuffer.copyBytes(from: buffered)
        unread = 0..<buffered.count
        lastInput = Self.now()
        lastMessage = lastInput
        socket.setTimeouts(read: nil, write: timeouts.send)
    }

    deinit { readBuffer.deallocate() }

    /// Sees each data message's frames as they arrive; set it before receiving.
    public var messageObserver: (any WebSocketMessageObserver)? {
        get { readLock.withLock { observer } }
        set { readLock.withLock { observer = newValue } }
    }

    /// Seconds on a monotonic clock.
    private static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// The next data message, or `nil` once the connection is closed (by either side, for a
    /// protocol violation, which is answered with its close code first, or for the idle timeout).
    ///
    /// - Throws: ``WebSocketError/keepaliveTimeout(seconds:)`` when the peer stopped answering,
    ///   or the socket's failure when the connection broke.
    public func receive() throws -> Message? {
        try readLock.withLock { try receiveLocked() }
    }

    private func receiveLocked() throws -> Message? {
        while true {
            if pendingIndex < pending.count {
                let frame = pending[pendingIndex]
                pendingIndex += 1
                if let message = handle(frame) { return message }
                continue
            }
            guard !finished else { return nil }
            if let violation = decoder.violation {
                fail(violation)
                return nil
            }
            do {
                if let remaining = decoder.divertedRemaining {
                    try receiveDiverted(remaining)
                } else if !unread.isEmpty {
                    let input = UnsafeRawBufferPointer(rebasing: readBuffer[unread])
                    let (frames, consumed) = try decoder.decode(input, divertingContinuations: sink != nil)
                    unread = (unread.lowerBound + consumed)..<unread.upperBound
                    pending = frames
                    pendingIndex = 0
                } else {
                    guard try awaitInput() else { continue }
                    let count = try socket.read(into: readBuffer)
                    guard count > 0 else {
                        finish()
                        return nil
                    }
                    unread = 0..<count
                    lastInput = Self.now()
                    keepalivePingSent = nil
                }
            } catch WebSocketError.keepaliveTimeout(let seconds) {
                // The peer is gone: no close frame, which could only wait behind a stuck write.
                finish()
                throw WebSocketError.keepaliveTimeout(seconds: seconds)
            } catch let violation as WebSocketError {
                fail(violation)
                return nil
            } catch {
                finish()
                // A peer that resets the connection after our close frame has closed it.
                if isClosing { return nil }
                throw error
            }
        }
    }

    /// The most payload bytes read from the socket at once into a sink: few enough to still be
    /// in the core's cache when the sink works on them (hashes them, say).
    private static let divertedReadSize = 256 * 1024

    /// Puts up to `remaining` payload bytes of the diverted frame into the sink: the undecoded
    /// bytes already read, else bytes read from the socket straight into the sink's buffer.
    private func receiveDiverted(_ remaining: Int) throws {
        // swift-format-ignore: NeverForceUnwrap
        // The decoder diverts only while a sink is set.
        let (destination, received, size) = sink!
        let count: Int
        if !unread.isEmpty {
            count = min(remaining, unread.count)
            guard received + count <= size else {
                throw WebSocketError.tooLarge(size: UInt64(received + remaining), limit: size)
            }
            destination.space.copyMemory(
                from: UnsafeRawBufferPointer(rebasing: readBuffer[unread.lowerBound..<(unread.lowerBound + count)]))
            unread = (unread.lowerBound + count)..<unread.upperBound
        } else {
            guard received + remaining <= size else {
                throw WebSocketError.tooLarge(size: UInt64(received + remaining), limit: size)
            }
            guard try awaitInput() else { return }
            let space = destination.space
            count = try socket.read(
                into: UnsafeMutableRawBufferPointer(rebasing: space[..<min(remaining, Self.divertedReadSize)]))
            guard count > 0 else {
                finish()
                return
            }
            lastInput = Self.now()
            keepalivePingSent = nil
        }
        sink = (destination, received + count, size)
        destination.received(count)
        if let frame = decoder.deliverDiverted(count) {
            pending = [frame]
            pendingIndex = 0
        }
    }

    /// Waits for input until the next deadline (keepalive, idle, close); false when a deadline
    /// passed first and was dealt with.
    private func awaitInput() throws -> Bool {
        guard unread.isEmpty else { return true }
        let now = Self.now()
        var deadline = Double.infinity
        var onDeadline: () throws -> Void = {}
        if let closeSent = closeSent.withLock({ $0 }) {
            deadline = closeSent + timeouts.close
            onDeadline = { [self] in finish() }
        } else {
            if let interval = timeouts.keepaliveInterval {
                if let pinged = keepalivePingSent {
                    deadline = pinged + timeouts.keepaliveTimeout
                    onDeadline = { [self] in throw WebSocketError.keepaliveTimeout(seconds: timeouts.keepaliveTimeout) }
                } else {
                    deadline = lastInput + interval
                    onDeadline = { [self] in
                        try send(frame: WebSocketFrame(opcode: .ping, payload: Array("keepalive".utf8)))
                        keepalivePingSent = Self.now()
                    }
                }
            }
            if let idle = timeouts.idle, lastMessage + idle < deadline {
                deadline = lastMessage + idle
                onDeadline = { [self] in sendClose(code: 1001, reason: "idle timeout", finishingMessage: true) }
            }
        }
        guard deadline.isFinite else { return true }
        if deadline > now, try socket.waitForInput(timeout: deadline - now) { return true }
        try onDeadline()
        return false
    }

    /// Acts on one frame; returns it when it completes a data message for the caller.
    private func handle(_ frame: WebSocketFrame) -> Message? {
        let event: WebSocketMessageAssembler.Event?
        do throws(WebSocketError) {
            if !frame.opcode.isControl, sink != nil {
                try continueDiverted(frame)
                return nil
            }
            if let observer, !frame.opcode.isControl {
                let route = try observer.observe(
                    fragment: frame.payload, first: frame.opcode != .continuation, last: frame.fin)
                if case .divert(let size, let destination) = route, frame.opcode != .continuation {
                    guard size <= assembler.maximumMessageSize else {
                        throw WebSocketError.tooLarge(size: UInt64(size), limit: assembler.maximumMessageSize)
                    }
                    guard !assembler.isAssembling else {
                        throw WebSocketError.unexpectedContinuation("a new message began before the last one ended")
                    }
                    guard frame.payload.count <= size else {
                        throw WebSocketError.tooLarge(size: UInt64(frame.payload.count), limit: size)
                    }
                    sink = (destination, frame.payload.count, size)
                    if frame.fin { finishDiverted() }
                    return nil
                }
            }
            event = try assembler.receive(frame)
        } catch {
            fail(error)
            return nil
        }
        switch event {
        case .text(let text)?: return deliver(.text(text))
        case .binary(let bytes)?: return deliver(.binary(bytes))
        case .ping(let payload)?:
            if !isClosing { try? send(frame: WebSocketFrame(opcode: .pong, payload: payload)) }
            return nil
        case .pong?, nil:
            return nil
        case .close(let code, let reason)?:
            peerClose = (code, reason)
            // Echo the code (section 5.5.1) at once: a message being sent is cut, since the
            // peer has stopped reading.
            sendClose(code: code ?? 1005, reason: "", finishingMessage: false)
            finish()
            return nil
        }
    }

    /// Takes a frame of a diverted message after its first: a continuation, whose payload the
    /// decoder diverted into the sink unless it came whole.
    private func continueDiverted(_ frame: WebSocketFrame) throws(WebSocketError) {
        guard frame.opcode == .continuation, let (destination, received, size) = sink else {
            throw WebSocketError.unexpectedContinuation("a new message began before the last one ended")
        }
        if !frame.payload.isEmpty {
            guard received + frame.payload.count <= size else {
                throw WebSocketError.tooLarge(size: UInt64(received + frame.payload.count), limit: size)
            }
            frame.payload.withUnsafeBytes { destination.space.copyMemory(from: $0) }
            sink = (destination, received + frame.payload.count, size)
            destination.received(frame.payload.count)
        }
        if frame.fin { finishDiverted() }
    }

    /// Ends the diverted message: its sink is told, and the connection stops diverting.
    private func finishDiverted() {
        let destination = sink?.destination
        sink = nil
        lastMessage = Self.now()
        destination?.finish()
    }

    /// A data message for the caller; after our close frame, messages still arriving are
    /// dropped, since they could not be answered.
    private func deliver(_ message: Message) -> Message? {
        guard !isClosing else { return nil }
        lastMessage = Self.now()
        return message
    }

    private var isClosing: Bool { closeSent.withLock { $0 != nil } }

    /// Sends a text message.
    public func send(text: String) throws {
        try send(message: Array(text.utf8), opcode: .text)
    }

    /// Sends a binary message, in fragments when it is large, without copying it whole.
    public func send(binary: [UInt8]) throws {
        try send(message: binary, opcode: .binary)
    }

    /// Sends one binary message made of `parts` in order, without joining them.
    ///
    /// Each part goes out in fragments of at most ``fragmentSize``. The pointers need only live for the call.
    public func send(binaryParts parts: [UnsafeRawBufferPointer]) throws {
        try messageLock.withLock { try send(parts: parts, opcode: .binary) }
    }

    private func send(message: [UInt8], opcode: WebSocketFrame.Opcode) throws {
        try messageLock.withLock {
            try message.withUnsafeBytes { try send(parts: [$0], opcode: opcode) }
        }
    }

    /// Sends `parts` as one message's frames; the caller holds `messageLock`.
    private func send(parts: [UnsafeRawBufferPointer], opcode: WebSocketFrame.Opcode) throws {
        let parts = parts.isEmpty ? [UnsafeRawBufferPointer(start: nil, count: 0)] : parts
        var first = true
        let lastPart = parts.lastIndex { !$0.isEmpty } ?? 0
        for (index, bytes) in parts.enumerated() where !bytes.isEmpty || index == lastPart {
            var offset = 0
            repeat {
                let end = min(offset + Self.fragmentSize, bytes.count)
                try send(
                    fin: index == lastPart && end == bytes.count, opcode: first ? opcode : .continuation,
                    payload: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
                first = false
                offset = end
            } while offset < bytes.count
        }
    }

    func send(frame: WebSocketFrame) throws {
        try frame.payload.withUnsafeBytes { try send(fin: frame.fin, opcode: frame.opcode, payload: $0) }
    }

    private func send(fin: Bool, opcode: WebSocketFrame.Opcode, payload: UnsafeRawBufferPointer) throws {
        guard masksFrames else {
            let header = WebSocketFrame.header(fin: fin, opcode: opcode, payloadLength: payload.count)
            return try write(header, payload, opcode: opcode)
        }
        let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
        let header = WebSocketFrame.header(fin: fin, opcode: opcode, payloadLength: payload.count, maskingKey: key)
        var masked = [UInt8](payload)
        masked.withUnsafeMutableBytes { WebSocketFrame.applyMask(key, to: $0, payloadOffset: 0) }
        try masked.withUnsafeBytes { try write(header, $0, opcode: opcode) }
    }

    private func write(_ header: [UInt8], _ payload: UnsafeRawBufferPointer, opcode: WebSocketFrame.Opcode) throws {
        try writeLock.withLock {
            try closeSent.withLock { closeSent in
                guard closeSent == nil else { throw WebSocketError.closed }
                if opcode == .close { closeSent = Self.now() }
            }
            try socket.write(header, payload)
        }
    }

    /// Sends a close frame, once; with `finishingMessage`, after the message being sent, if any.
    private func sendClose(code: UInt16, reason: String, finishingMessage: Bool) {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
        if code == 1005 { payload = [] }
        let frame = WebSocketFrame(opcode: .close, payload: payload)
        if finishingMessage {
            messageLock.withLock { try? send(frame: frame) }
        } else {
            try? send(frame: frame)
        }
    }

    /// Starts the closing handshake.
    ///
    /// It sends a close frame once the message being sent (if any) has gone out, then waits up to ``Timeouts/close`` for the peer's close frame and closes
    /// the socket. When another thread is in ``receive()``, that thread finishes the handshake
    /// and this call returns at once.
    public func close(code: UInt16 = 1000, reason: String = "") {
        sendClose(code: code, reason: reason, finishingMessage: true)
        guard readLock.try() else { return }
        defer { readLock.unlock() }
        while (try? receiveLocked()) != nil {}
        finish()
    }

    /// Fails the connection: the violation's close code, then the socket closes at once.
    private func fail(_ violation: WebSocketError) {
        sendClose(code: violation.closeCode, reason: violation.description, finishingMessage: false)
        finish()
    }

    private func finish() {
        finished = true
        socket.close()
    }
}

/// Sees a data message's frames as they arrive, before the message is whole: to work on the
/// bytes while the rest is still on its way, and to tell from its start the message's size, or
/// where its payload should go, when the protocol above WebSocket says it.
public protocol WebSocketMessageObserver: AnyObject, Sendable {
    /// Called for each frame of a data message, in order, on the thread in
    /// ``WebSocketConnection/receive()`` (not for the frames after the first of a message it
    /// diverted); for a message's first frame, says what to do with the message.
    ///
    /// - Throws: ``WebSocketError`` to refuse the message (a size past what the protocol above
    ///   allows, say): the connection is then failed with its close code, before the rest arrives.
    func observe(fragment: [UInt8], first: Bool, last: Bool) throws(WebSocketError) -> WebSocketMessageRoute
}

/// What a connection does with a data message, as its observer says from the first frame.
public enum WebSocketMessageRoute {
    /// Assemble it and return it from ``WebSocketConnection/receive()``.
    case assemble
    /// Put the payload of its frames after the first into `sink`, reading them from the socket
    /// straight into the sink's buffer; ``WebSocketConnection/receive()`` does not return the
    /// message. `size` is the whole message's size, first frame included: a message longer than
    /// that fails the connection (1009).
    case divert(size: Int, into: any WebSocketPayloadSink)
}

/// Where a diverted message's payload goes (``WebSocketMessageRoute/divert(size:into:)``).
///
/// Its methods are called on the thread in ``WebSocketConnection/receive()``.
public protocol WebSocketPayloadSink: AnyObject {
    /// The part of the destination not written yet: at least as large as the rest of the
    /// message's declared size.
    var space: UnsafeMutableRawBufferPointer { get }
    /// `count` bytes were written at the start of ``space``.
    func received(_ count: Int)
    /// The message's last frame has arrived. A sink that is never finished was cut off: the
    /// connection ended first.
    func finish()
}
