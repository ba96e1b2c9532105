import Foundation

extension WebSocketConnection {
    /// The connection's data messages as an async sequence.
    ///
    /// A thread of its own reads them (the socket is blocking), so awaiting the next message
    /// holds no task thread. The sequence ends when the connection closes, and throws what
    /// ``receive()`` throws. Ending the iteration early closes the connection.
    public var messages: AsyncThrowingStream<Message, any Error> {
        AsyncThrowingStream { continuation in
            let thread = Thread { [self] in
                do {
                    while let message = try receive() {
                        continuation.yield(message)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "WebSocket reader"
            continuation.onTermination = { [self] termination in
                if case .cancelled = termination { close(code: 1001) }
            }
            thread.start()
        }
    }

    /// Sends a message without blocking the calling task.
    public func send(_ message: Message) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { [self] in
                do {
                    switch message {
                    case .text(let text): try send(text: text)
                    case .binary(let bytes): try send(binary: bytes)
                    }
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}

extension WebSocketClient {
    /// Connects without blocking the calling task (see ``connect(to:protocols:headers:timeout:tls:maximumFrameSize:maximumMessageSize:timeouts:)``).
    public static func connect(
        to url: String,
        protocols: [String] = [],
        headers: [(String, String)] = [],
        tls: TLSStream.Context? = nil,
        timeouts: WebSocketConnection.Timeouts = WebSocketConnection.Timeouts()
    ) async throws -> (connection: WebSocketConnection, subprotocol: String?) {
        let box = UnsafeSendable((protocols, headers))
        // The connection is handed over under a lock, an edge ThreadSanitizer sees: it missed
        // the continuation's and reported the connection's first reads on this side as races.
        let handOff = Locked<(connection: WebSocketConnection, subprotocol: String?)?>(nil)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    let (protocols, headers) = box.value
                    let result = try connect(
                        to: url, protocols: protocols, headers: headers, timeout: 10, tls: tls, timeouts: timeouts)
                    handOff.withLock { $0 = result }
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        guard let result = handOff.withLock({ $0 }) else { preconditionFailure("connected without a connection") }
        return result
    }
}
