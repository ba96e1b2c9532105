import Foundation
import StreamingWeights
import Testing

@Suite("The weight client against a misbehaving server")
struct WeightClientTests {
    @Test("A response whose header claims more bytes than the manifest says is refused as its header arrives")
    func oversizedResponse() async throws {
        var configuration = WebSocketServer.Configuration()
        configuration.subprotocols = [WireMessage.subprotocol]
        configuration.maximumFrameSize = 64 << 20
        // Answers every request with 32 MB, whatever the object, and counts the requests.
        let requests = Locked(0)
        let server = try WebSocketServer(configuration: configuration) { connection in
            while case .text(let text)? = try? connection.receive() {
                guard let request = try? WireMessage.Request(parsing: text) else { return }
                requests.withLock { $0 += 1 }
                let payload = [UInt8](repeating: 7, count: 32 << 20)
                let header = WireMessage.Header(
                    id: request.id, name: request.name ?? "", size: payload.count,
                    sha256: Digest.sha256(payload).hexString, encoding: "identity", offset: 0, length: payload.count)
                let prefix = WireMessage.prefix(for: header)
                try? prefix.withUnsafeBytes { head in
                    try payload.withUnsafeBytes { try connection.send(binaryParts: [head, $0]) }
                }
            }
        }
        server.start()
        defer { server.stop() }
        let client = WeightClient(configuration: WeightClient.Configuration(url: "ws://127.0.0.1:\(server.port)"))
        defer { client.close() }
        await #expect {
            _ = try await client.get(.get, name: "layer_0", expectedLength: 100)
        } throws: { error in
            guard case WeightClient.Failure.oversizedResponse(_, "layer_0", 32 << 20, 100) = error else { return false }
            return "\(error)".contains("refused before receiving them")
        }
        #expect(requests.withLock { $0 } == 1, "refused, not retried")
        // Without a limit the same answer is taken whole.
        #expect(try await client.get(.get, name: "layer_0").payload.count == 32 << 20)
    }
}
