import ArgumentParser
import Foundation
import StreamingWeights
import Synchronization

struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "A WebSocket server that echoes every message (for scripts/conformance)."
    )

    @Option(help: "The port (0 picks a free one, printed on the first line).")
    var port = 0

    func run() throws {
        var configuration = WebSocketServer.Configuration()
        configuration.port = port
        // Under the load test, 256 clients' echoes keep both cores busy while the last ones
        // connect: their handshakes may wait their turn for longer than the default 10 s (36 of
        // 256 did once on a busy machine), which is not what the test measures.
        configuration.handshakeTimeout = 60
        let server = try WebSocketServer(configuration: configuration) { connection in
            echo(connection)
        }
        server.start()
        FileHandle.standardOutput.write(Data("\(server.port)\n".utf8))
        while true { sleep(3600) }
    }
}

struct EchoClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-client",
        abstract: "A WebSocket client that echoes every message it receives (for scripts/conformance)."
    )

    @Option(help: "The ws:// URL to connect to.")
    var url: String

    func run() throws {
        let (connection, _) = try WebSocketClient.connect(to: url)
        echo(connection)
    }
}

struct WebSocketThroughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "websocket-throughput",
        abstract: "One client receiving messages from our server over loopback."
    )

    @Option(help: "Messages to send.")
    var count = 1000

    @Option(help: "Message size in MiB.")
    var sizeMB = 1

    @Option(help: "A PEM certificate for localhost: measures wss:// instead of ws://.")
    var tlsCertificate: String?

    @Option(help: "The certificate's private key.")
    var tlsKey: String?

    func run() throws {
        let message = [UInt8](repeating: 0x5A, count: sizeMB << 20)
        let total = count
        var configuration = WebSocketServer.Configuration()
        var clientContext: TLSStream.Context?
        if let tlsCertificate, let tlsKey {
            configuration.tls = try TLSStream.Context(certificateFile: tlsCertificate, keyFile: tlsKey)
            clientContext = try TLSStream.Context(caFile: tlsCertificate)
        }
        let server = try WebSocketServer(configuration: configuration) { connection in
            for _ in 0..<total { try? connection.send(binary: message) }
            _ = try? connection.receive()
        }
        server.start()
        defer { server.stop() }
        let scheme = clientContext == nil ? "ws" : "wss"
        let (connection, _) = try WebSocketClient.connect(
            to: "\(scheme)://localhost:\(server.port)/", tls: clientContext)
        let start = DispatchTime.now().uptimeNanoseconds
        var bytes = 0
        for _ in 0..<count {
            guard case .binary(let data)? = try connection.receive() else {
                throw ValidationError("the stream ended early")
            }
            bytes += data.count
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        connection.close()
        try printJSON(["gb_per_s": Double(bytes) / seconds / 1e9, "bytes": bytes, "seconds": seconds])
    }
}

struct WebSocketLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "websocket-load",
        abstract:
            "Many clients at once, each sending messages to an echo server and checking every byte that comes back."
    )

    @Option(help: "The echo server's ws:// URL.")
    var url: String

    @Option(help: "Clients connected at once.")
    var clients = 256

    @Option(help: "Messages each client sends, one at a time, waiting for each echo.")
    var messages = 100

    @Option(help: "Message size in bytes.")
    var size = 1_000_000

    func run() throws {
        let (clients, messages, size, url) = (clients, messages, size, url)
        let results = Mutex<(checked: Int, failures: [String])>((0, []))
        let group = DispatchGroup()
        let start = DispatchTime.now().uptimeNanoseconds
        for client in 0..<clients {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    // The same allowance as the echo server's handshake (above).
                    let (connection, _) = try WebSocketClient.connect(to: url, timeout: 60)
                    // Random bytes per client, and the message's number in its first 8 bytes, so
                    // an echo of another client's or another message's bytes is caught.
                    var message = [UInt8](repeating: 0, count: max(size, 8))
                    var random = SystemRandomNumberGenerator()
                    message.withUnsafeMutableBytes { bytes in
                        for offset in stride(from: 0, to: bytes.count - 7, by: 8) {
                            bytes.storeBytes(of: random.next(), toByteOffset: offset, as: UInt64.self)
                        }
                    }
                    for index in 0..<messages {
                        message.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(index), as: UInt64.self) }
                        try connection.send(binary: message)
                        guard case .binary(let echoed)? = try connection.receive(), echoed == message else {
                            throw ValidationError("client \(client): message \(index) came back different")
                        }
                        results.withLock { $0.checked += echoed.count }
                    }
                    connection.close()
                } catch {
                    results.withLock { $0.failures.append("\(error)") }
                }
            }
            thread.stackSize = 256 * 1024
            thread.start()
        }
        group.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let (checked, failures) = results.withLock { ($0.checked, $0.failures) }
        try printJSON([
            "clients": clients, "messages": messages, "bytes_checked": checked, "seconds": seconds,
            "gb_per_s": Double(checked) / seconds / 1e9, "failures": Array(failures.prefix(5)),
            "failure_count": failures.count,
        ])
    }
}

/// Sends every message of `connection` back to its sender until the connection closes.
func echo(_ connection: WebSocketConnection) {
    while let message = try? connection.receive() {
        switch message {
        case .text(let text): try? connection.send(text: text)
        case .binary(let bytes): try? connection.send(binary: bytes)
        }
    }
}
