import Foundation
import StreamingWeights
import Synchronization
import Testing

/// How server handlers' receive loops ended, for tests to wait on.
final class HandlerOutcomes: Sendable {
    private let outcomes = Mutex<[String]>([])

    func record(_ outcome: String) { outcomes.withLock { $0.append(outcome) } }

    /// The outcomes once there are `count` of them, waiting up to `timeout` seconds.
    func wait(for count: Int, timeout: Double = 5) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while outcomes.withLock({ $0.count }) < count && Date() < deadline { usleep(10_000) }
        return outcomes.withLock { $0 }
    }

    /// A server whose handler echoes text, answers "stream N" with N binary messages of 1 MiB,
    /// and records how its loop ended: "closed", or the error it threw.
    func server(_ configure: (inout WebSocketServer.Configuration) -> Void) throws -> WebSocketServer {
        var configuration = WebSocketServer.Configuration()
        configure(&configuration)
        let server = try WebSocketServer(configuration: configuration) { [self] connection in
            do {
                while case .text(let text)? = try connection.receive() {
                    if text.hasPrefix("stream "), let count = Int(text.dropFirst(7)) {
                        for index in 0..<count { try connection.send(binary: WebSocketLifecycleTests.block(index)) }
                    } else {
                        try connection.send(text: text)
                    }
                }
                record("closed")
            } catch {
                record("\(error)")
            }
        }
        server.start()
        return server
    }
}

@Suite("WebSocket keepalive, timeouts, back-pressure and shutdown")
struct WebSocketLifecycleTests {
    /// 1 MiB that differs from one index to the next.
    static func block(_ index: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 1 << 20)
        bytes[index % bytes.count] = 0xFF
        return bytes
    }

    /// A raw connection that completes the upgrade and reads the 101 response, then does
    /// only what the test does with it.
    static func upgradedRaw(port: Int) throws -> Int32 {
        let fd = WebSocketServerTests.connectRaw(port: port)
        let request = Array(WebSocketServerTests.upgradeRequest.utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        while response.firstRange(of: [13, 10, 13, 10]) == nil {
            var byte: UInt8 = 0
            guard recv(fd, &byte, 1, 0) == 1 else { break }
            response.append(byte)
        }
        #expect(String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101"))
        return fd
    }

    /// Reads from `fd` until the peer closes it (or 5 seconds pass); returns the bytes.
    static func readToEnd(_ fd: Int32) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if count <= 0 { return received }
            received += buffer[..<count]
        }
    }

    @Test("A peer that answers keepalive pings stays connected; one that stops answering is dropped with 1011's reason")
    func keepalive() throws {
        let outcomes = HandlerOutcomes()
        let server = try outcomes.server {
            $0.timeouts.keepaliveInterval = 0.2
            $0.timeouts.keepaliveTimeout = 1
        }
        defer { server.stop() }
        var quiet = WebSocketConnection.Timeouts()
        quiet.keepaliveInterval = nil
        let (live, _) = try WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/", timeouts: quiet)
        // A thread of its own receives (and so answers pings), as an application's reader would.
        let replies = HandlerOutcomes()
        let reader = Thread {
            while let message = try? live.receive() { replies.record("\(message)") }
        }
        reader.start()
        let dead = try Self.upgradedRaw(port: server.port)
        defer { close(dead) }
        let started = Date()
        let timedOut = "the peer did not answer a keepalive ping within 1.0 s"
        #expect(outcomes.wait(for: 1) == [timedOut])
        #expect(Date().timeIntervalSince(started) < 4)
        // The dead peer was sent the ping, then the connection was shut.
        let seen = Self.readToEnd(dead)
        #expect(seen.starts(with: [0x89, 9] + Array("keepalive".utf8)))
        // The live client answered every ping and is still served.
        try live.send(text: "still here")
        #expect(replies.wait(for: 1) == [#"text("still here")"#])
        #expect(outcomes.wait(for: 1, timeout: 0) == [timedOut])
        live.close()
    }

    @Test("A connection without data messages is closed with 1001 after the idle timeout")
    func idleTimeout() throws {
        let outcomes = HandlerOutcomes()
        let server = try outcomes.server { $0.timeouts.idle = 0.3 }
        defer { server.stop() }
        let (connection, _) = try WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        let started = Date()
        #expect(try connection.receive() == nil)
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(connection.peerClose?.code == 1001)
        #expect(connection.peerClose?.reason == "idle timeout")
        #expect(outcomes.wait(for: 1) == ["closed"])
    }

    @Test("Stopping the server finishes the message being sent, then closes with 1001 and refuses new clients")
    func gracefulShutdown() throws {
        let outcomes = HandlerOutcomes()
        let server = try outcomes.server { _ in }
        let url = "ws://127.0.0.1:\(server.port)/"
        let (connection, _) = try WebSocketClient.connect(to: url)
        try connection.send(text: "stream 48")
        // The server is now blocked sending: the socket buffers hold a few MiB, not 48.
        usleep(200_000)
        let stopped = DispatchSemaphore(value: 0)
        // The grace period bounds a hang, not a speed: 48 MiB take well under a second in
        // release, but tens of seconds in a debug build under ThreadSanitizer beside the
        // in-process server suites.
        DispatchQueue.global().async {
            server.stop(gracePeriod: 60)
            stopped.signal()
        }
        // The close goes out after whichever message is being sent when it is queued: where
        // that falls depends on timing (under ThreadSanitizer it has come after message 10).
        // What a client depends on: every message it gets is whole and in order, then 1001.
        var received = 0
        while let message = try connection.receive() {
            guard received < 48, message == .binary(Self.block(received)) else {
                Issue.record(
                    "message \(received) was cut or changed: \(String(describing: message).prefix(100))")
                return
            }
            received += 1
        }
        #expect(received >= 1, "stop came while message 0 was being sent; it must have finished")
        #expect(connection.peerClose?.code == 1001, "\(String(describing: connection.peerClose))")
        #expect(stopped.wait(timeout: .now() + 5) == .success)
        #expect(server.openConnections == 0)
        // The handler either went back to receive (all 48 sent) or its next send was refused.
        let outcome = outcomes.wait(for: 1)
        #expect(outcome == (received == 48 ? ["closed"] : ["\(WebSocketError.closed)"]), "\(outcome)")
        #expect(throws: (any Error).self) { _ = try WebSocketClient.connect(to: url) }
    }

    @Test("A peer that stops reading holds only its own connection, and is dropped when a send times out")
    func stalledReader() throws {
        let outcomes = HandlerOutcomes()
        let server = try outcomes.server { $0.timeouts.send = 1 }
        defer { server.stop() }
        let stalled = try Self.upgradedRaw(port: server.port)
        defer { close(stalled) }
        let request: [UInt8] = [0x81, 0x80 | 9, 0, 0, 0, 0] + Array("stream 64".utf8)
        _ = request.withUnsafeBytes { send(stalled, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let (healthy, _) = try WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        try healthy.send(text: "stream 64")
        for index in 0..<64 {
            guard try healthy.receive() == .binary(Self.block(index)) else {
                Issue.record("message \(index) came back wrong")
                return
            }
        }
        let outcome = outcomes.wait(for: 1).first ?? ""
        #expect(outcome.contains("write failed"), "\(outcome)")
        healthy.close()
    }

    @Test("An upgrade request dribbled a byte at a time is cut at the handshake timeout")
    func slowloris() throws {
        let server = try WebSocketServerTests.echoServer { $0.handshakeTimeout = 1 }
        defer { server.stop() }
        let fd = WebSocketServerTests.connectRaw(port: server.port)
        let dribbled = DispatchSemaphore(value: 0)
        let dribble = Thread {
            defer { dribbled.signal() }
            for byte in Array("GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ".utf8) + Array(repeating: 0x61, count: 100) {
                var byte = byte
                guard send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return }
                usleep(100_000)
            }
        }
        dribble.start()
        let started = Date()
        #expect(Self.readToEnd(fd).isEmpty)
        #expect(Date().timeIntervalSince(started) < 2.5)
        // The descriptor is closed only once nothing writes to it, or its number could be reused.
        #expect(dribbled.wait(timeout: .now() + 5) == .success)
        close(fd)
    }
}
