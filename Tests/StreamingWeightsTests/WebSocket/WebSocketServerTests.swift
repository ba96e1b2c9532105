import Foundation
import StreamingWeights
import Testing

@Suite("The WebSocket server over real sockets")
struct WebSocketServerTests {
    static func echoServer(_ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }) throws
        -> WebSocketServer
    {
        var configuration = WebSocketServer.Configuration()
        configure(&configuration)
        let server = try WebSocketServer(configuration: configuration) { connection in
            while let message = try? connection.receive() {
                switch message {
                case .text(let text): try? connection.send(text: text)
                case .binary(let bytes): try? connection.send(binary: bytes)
                }
            }
        }
        server.start()
        return server
    }

    @Test("Python's websockets client exchanges text and binary, 0 bytes to 64 MiB, and pings")
    func pythonClient() throws {
        let server = try Self.echoServer { $0.maximumFrameSize = 64 << 20 }
        defer { server.stop() }
        let script = """
            import asyncio, sys, websockets
            async def main():
                async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/", max_size=None) as ws:
                    for text in ["", "hello", "héllo wörld 🤗" * 1000]:
                        await ws.send(text)
                        assert await ws.recv() == text
                    for size in [0, 1, 125, 126, 65535, 65536, 20 << 20, 64 << 20]:
                        data = (bytes(range(251)) * (size // 251 + 1))[:size]
                        await ws.send(data)
                        assert await ws.recv() == data, size
                    await (await ws.ping(b"p"))
                    await ws.send((b"frag" * 1000 for _ in range(5)))
                    assert await ws.recv() == b"frag" * 5000
                print("ok")
            asyncio.run(main())
            """
        let result = try ProcessRunner.run(Repository.python, ["-c", script, String(server.port)])
        #expect(result.outputText == "ok\n", "\(result.standardError)")
    }

    /// A plain TCP connection to `port` on loopback, with a 5-second read timeout (a file descriptor).
    static func connectRaw(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static let upgradeRequest =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// Opens a raw connection, performs the handshake, sends `bytes`, and returns everything the server sends back.
    static func raw(_ server: WebSocketServer, handshake: String? = nil, then bytes: [UInt8] = []) throws -> [UInt8] {
        let fd = connectRaw(port: server.port)
        let all = Array((handshake ?? upgradeRequest).utf8) + bytes
        _ = all.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
        }
        close(fd)
        return received
    }

    /// The close code in the frame that follows the 101 response.
    static func closeCode(in response: [UInt8]) -> UInt16? {
        guard let end = response.firstRange(of: [13, 10, 13, 10])?.upperBound, response.count >= end + 4,
            response[end] == 0x88
        else { return nil }
        return UInt16(response[end + 2]) << 8 | UInt16(response[end + 3])
    }

    static let violationCases: [(bytes: [UInt8], code: UInt16)] = [
        ([0x81, 0x02, 0x68, 0x69], 1002),  // unmasked client frame
        ([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], 1002),  // 2^63 length
        ([0x09, 0x80, 1, 2, 3, 4], 1002),  // fragmented ping
        ([0x81, 0x82, 0, 0, 0, 0, 0xC3, 0x28], 1007),  // invalid UTF-8
        ([0x01, 0x81, 0, 0, 0, 0, 0xE2, 0x80, 0x81, 0, 0, 0, 0, 0x28], 1007),  // invalid UTF-8 split across fragments
        ([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xED], 1002),  // close with an invalid code (1005)
    ]

    @Test("Violations are answered with the RFC's close code", arguments: violationCases)
    func violations(bytes: [UInt8], code: UInt16) throws {
        let server = try Self.echoServer()
        defer { server.stop() }
        #expect(Self.closeCode(in: try Self.raw(server, then: bytes)) == code)
    }

    @Test("A valid close is echoed, and data after it is ignored")
    func closeHandshake() throws {
        let server = try Self.echoServer()
        defer { server.stop() }
        let response = try Self.raw(server, then: [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8, 0x81, 0x81, 0, 0, 0, 0, 0x41])
        #expect(Self.closeCode(in: response) == 1000)
        let end = try #require(response.firstRange(of: [13, 10, 13, 10])?.upperBound)
        #expect(response.count == end + 4)
    }

    @Test("Bad handshakes get their HTTP status; a client that never finishes is dropped after the timeout")
    func badHandshakes() throws {
        let server = try Self.echoServer { $0.handshakeTimeout = 1 }
        defer { server.stop() }
        func status(_ request: String) throws -> String {
            String(String(decoding: try Self.raw(server, handshake: request), as: UTF8.self).prefix(12))
        }
        #expect(
            try status(
                "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ) == "HTTP/1.1 400")
        #expect(
            try status(
                "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n"
            ) == "HTTP/1.1 426")
        #expect(
            try status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 1 << 20) + "\r\n\r\n") == "HTTP/1.1 431")
        let started = Date()
        #expect(try Self.raw(server, handshake: "GET / HTTP/1.1\r\nHost: x\r\n").isEmpty)
        #expect(Date().timeIntervalSince(started) < 4)
    }

    @Test(
        "1,000 connections opened and dropped without a handshake leave the server serving, with no thread left behind")
    func droppedConnections() throws {
        let server = try Self.echoServer { $0.handshakeTimeout = 2 }
        defer { server.stop() }
        for _ in 0..<1000 { close(Self.connectRaw(port: server.port)) }
        let (connection, _) = try WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        try connection.send(text: "still here")
        #expect(try connection.receive() == .text("still here"))
        connection.close()
        // Every dropped connection's thread ends as soon as its peer is gone.
        let deadline = Date().addingTimeInterval(5)
        while server.openConnections > 0 && Date() < deadline { usleep(10_000) }
        #expect(server.openConnections == 0)
    }

    @Test("Past the connection cap a client gets HTTP 503; a slot freed is usable again")
    func connectionCap() throws {
        let server = try Self.echoServer { $0.maximumConnections = 2 }
        defer { server.stop() }
        let url = "ws://127.0.0.1:\(server.port)/"
        let first = try WebSocketClient.connect(to: url).connection
        let second = try WebSocketClient.connect(to: url).connection
        #expect {
            _ = try WebSocketClient.connect(to: url)
        } throws: { error in
            "\(error)".hasPrefix("the server refused the WebSocket upgrade with HTTP 503")
        }
        first.close()
        let deadline = Date().addingTimeInterval(5)
        while server.openConnections > 1 && Date() < deadline { usleep(10_000) }
        let third = try WebSocketClient.connect(to: url).connection
        try third.send(text: "in")
        #expect(try third.receive() == .text("in"))
        second.close()
        third.close()
    }

    @Test("A refused request gets the authorizer's status and no upgrade")
    func authorization() throws {
        let server = try Self.echoServer { configuration in
            configuration.authorize = { request in
                request.header("authorization") == "Bearer secret" ? nil : (401, "a bearer token is required")
            }
        }
        defer { server.stop() }
        let response = String(decoding: try Self.raw(server), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 401 Unauthorized") && response.hasSuffix("a bearer token is required\n"))
    }
}

@Suite("The WebSocket client")
struct WebSocketClientTests {
    @Test("Our client talks to Python's websockets server: text, binary up to 64 MiB, and a refused upgrade")
    func pythonServer() throws {
        let script = """
            import asyncio, sys, websockets
            from websockets.http11 import Response
            from websockets.datastructures import Headers
            async def echo(ws):
                async for message in ws:
                    await ws.send(message)
            def check(connection, request):
                if request.headers.get("Authorization") != "Bearer secret":
                    return Response(401, "Unauthorized", Headers([("Content-Length", "15")]), b"token required\\n")
            async def main():
                async with websockets.serve(echo, "127.0.0.1", 0, process_request=check, max_size=None) as server:
                    print(server.sockets[0].getsockname()[1], flush=True)
                    await asyncio.Future()
            asyncio.run(main())
            """
        let server = try BackgroundProcess(Repository.python, ["-c", script])
        let url = "ws://127.0.0.1:\(try server.firstLine())/"
        let (connection, _) = try WebSocketClient.connect(to: url, headers: [("Authorization", "Bearer secret")])
        for text in ["", "hello", String(repeating: "héllo 🤗", count: 1000)] {
            try connection.send(text: text)
            #expect(try connection.receive() == .text(text))
        }
        for size in [0, 125, 65536, 20 << 20, 64 << 20] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try connection.send(binary: bytes)
            #expect(try connection.receive() == .binary(bytes), "\(size)")
        }
        connection.close()
        #expect {
            _ = try WebSocketClient.connect(to: url)
        } throws: { error in
            "\(error)" == "the server refused the WebSocket upgrade with HTTP 401: token required"
        }
        #expect(throws: WebSocketClient.InvalidURL.self) { _ = try WebSocketClient.connect(to: "http://example.com/") }
    }
}

@Suite("The async WebSocket API")
struct WebSocketAsyncTests {
    @Test("Messages arrive as an async sequence and go out with async send")
    func asyncEcho() async throws {
        let server = try WebSocketServerTests.echoServer()
        defer { server.stop() }
        let (connection, _) = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/")
        let sent: [WebSocketConnection.Message] = [
            .text("one"), .binary([1, 2, 3]), .text(""), .binary(Array(repeating: 9, count: 3 << 20)),
        ]
        for message in sent { try await connection.send(message) }
        var received: [WebSocketConnection.Message] = []
        for try await message in connection.messages {
            received.append(message)
            if received.count == sent.count { break }
        }
        #expect(received == sent)
        connection.close()
    }
}
