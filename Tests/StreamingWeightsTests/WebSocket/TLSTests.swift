import Foundation
import Logging
import StreamingWeights
import Testing

@Suite("wss:// over OpenSSL")
struct TLSTests {
    /// A self-signed certificate for `host` (by default localhost and 127.0.0.1), made by `openssl req`.
    static func certificate(
        _ directory: TemporaryDirectory, host: String = "localhost", names: String = "DNS:localhost,IP:127.0.0.1"
    ) throws -> (certificate: String, key: String) {
        let result = try ProcessRunner.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=\(host)",
                "-addext", "subjectAltName=\(names)",
                "-keyout", directory.file("\(host)-key.pem"), "-out", directory.file("\(host).pem"),
            ])
        #expect(result.status == 0, "\(result.standardError)")
        return (directory.file("\(host).pem"), directory.file("\(host)-key.pem"))
    }

    static func echoServer(tls: TLSStream.Context) throws -> WebSocketServer {
        try WebSocketServerTests.echoServer { $0.tls = tls }
    }

    @Test(
        "Our client verifies our server's certificate against a CA file, refuses it without one, and warns when insecure"
    )
    func ourClientAndServer() throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try Self.certificate(directory)
        let server = try Self.echoServer(tls: try TLSStream.Context(certificateFile: certificate, keyFile: key))
        defer { server.stop() }
        let url = "wss://localhost:\(server.port)/"
        let (connection, _) = try WebSocketClient.connect(to: url, tls: try TLSStream.Context(caFile: certificate))
        let payload = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try connection.send(binary: payload)
        #expect(try connection.receive() == .binary(payload))
        try connection.send(text: "över TLS")
        #expect(try connection.receive() == .text("över TLS"))
        connection.close()
        let rejected = #expect(throws: TLSStream.CertificateRejected.self) {
            _ = try WebSocketClient.connect(to: url)
        }
        #expect(rejected?.description == "the TLS certificate of localhost was rejected: self-signed certificate")
        #expect(rejected?.wrongHost == false)
        let log = CapturedLog()
        let (insecure, _) = try WebSocketClient.connect(
            to: url, tls: try TLSStream.Context(insecure: true, logger: log.logger))
        insecure.close()
        #expect(log.messages.map(\.level) == [.warning])
        #expect(log.messages.first?.message.contains("not verified (insecure)") == true)
        #expect(throws: TLSStream.Failure.self) {
            _ = try TLSStream.Context(certificateFile: directory.file("missing.pem"), keyFile: key)
        }
    }

    @Test("Python's websockets client talks to our wss server, and our client to Python's, up to 64 MiB")
    func pythonInterop() throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try Self.certificate(directory)
        let server = try WebSocketServerTests.echoServer {
            $0.tls = try? TLSStream.Context(certificateFile: certificate, keyFile: key)
            $0.maximumFrameSize = 64 << 20
        }
        defer { server.stop() }
        let client = """
            import asyncio, ssl, sys, websockets
            async def main():
                context = ssl.create_default_context(cafile=sys.argv[2])
                async with websockets.connect(f"wss://localhost:{sys.argv[1]}/", ssl=context, max_size=None) as ws:
                    for size in [0, 1 << 20, 64 << 20]:
                        data = (bytes(range(251)) * (size // 251 + 1))[:size]
                        await ws.send(data)
                        assert await ws.recv() == data, size
                    await ws.send("héllo")
                    assert await ws.recv() == "héllo"
                print("ok")
            asyncio.run(main())
            """
        let result = try ProcessRunner.run(Repository.python, ["-c", client, String(server.port), certificate])
        #expect(result.outputText == "ok\n", "\(result.standardError)")

        let pythonServer = """
            import asyncio, ssl, sys, websockets
            async def echo(ws):
                async for message in ws:
                    await ws.send(message)
            async def main():
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(sys.argv[1], sys.argv[2])
                async with websockets.serve(echo, "127.0.0.1", 0, ssl=context, max_size=None) as server:
                    print(server.sockets[0].getsockname()[1], flush=True)
                    await asyncio.Future()
            asyncio.run(main())
            """
        let python = try BackgroundProcess(Repository.python, ["-c", pythonServer, certificate, key])
        let port = try python.firstLine()
        let (connection, _) = try WebSocketClient.connect(
            to: "wss://localhost:\(port)/", tls: try TLSStream.Context(caFile: certificate))
        for size in [1 << 20, 64 << 20] {
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }
            try connection.send(binary: bytes)
            #expect(try connection.receive() == .binary(bytes), "\(size)")
        }
        connection.close()
    }
}
