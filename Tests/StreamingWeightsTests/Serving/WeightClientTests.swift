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

    /// A server answering every request with a header claiming `claimed` payload bytes
    /// followed by `sent` bytes (of 7) in frames of 1,000.
    private static func lyingServer(claimed: Int, sent: Int) throws -> WebSocketServer {
        var configuration = WebSocketServer.Configuration()
        configuration.subprotocols = [WireMessage.subprotocol]
        return try WebSocketServer(configuration: configuration) { connection in
            while case .text(let text)? = try? connection.receive() {
                guard let request = try? WireMessage.Request(parsing: text) else { return }
                let payload = [UInt8](repeating: 7, count: sent)
                let header = WireMessage.Header(
                    id: request.id, name: request.name ?? "", size: claimed,
                    sha256: Digest.sha256(payload).hexString, encoding: "identity", offset: 0, length: claimed)
                let prefix = WireMessage.prefix(for: header)
                let parts = stride(from: 0, to: sent, by: 1000).map { payload[$0..<min($0 + 1000, sent)] }
                try? prefix.withUnsafeBytes { head in
                    try payload.withUnsafeBytes { bytes in
                        try connection.send(
                            binaryParts: [head]
                                + parts.map { UnsafeRawBufferPointer(rebasing: bytes[$0.startIndex..<$0.endIndex]) })
                    }
                }
            }
        }
    }

    @Test("A response carrying more bytes than its header says fails the connection before they are written")
    func longerThanItsHeader() async throws {
        let server = try Self.lyingServer(claimed: 5000, sent: 9000)
        server.start()
        defer { server.stop() }
        var configuration = WeightClient.Configuration(url: "ws://127.0.0.1:\(server.port)")
        configuration.retryDelay = 0.01
        let client = WeightClient(configuration: configuration)
        defer { client.close() }
        await #expect(throws: (any Error).self) {
            _ = try await client.get(.get, name: "layer_0", expectedLength: 5000)
        }
    }

    @Test("A response ending before its header's length is delivered as what arrived, never padded")
    func shorterThanItsHeader() async throws {
        let server = try Self.lyingServer(claimed: 5000, sent: 3000)
        server.start()
        defer { server.stop() }
        let client = WeightClient(configuration: WeightClient.Configuration(url: "ws://127.0.0.1:\(server.port)"))
        defer { client.close() }
        let object = try await client.get(.get, name: "layer_0", expectedLength: 5000)
        #expect(object.payload.count == 3000 && object.header.length == 3000)
        #expect(
            object.payloadDigest == ContentDigest(.sha256, Digest.sha256([UInt8](repeating: 7, count: 3000)).hexString))
    }

    @Test(
        "A response whose header is split across frames (as a proxy may frame it) is assembled, hashed and delivered whole"
    )
    func headerSplitAcrossFrames() async throws {
        var configuration = WebSocketServer.Configuration()
        configuration.subprotocols = [WireMessage.subprotocol]
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let server = try WebSocketServer(configuration: configuration) { connection in
            while case .text(let text)? = try? connection.receive() {
                guard let request = try? WireMessage.Request(parsing: text) else { return }
                let header = WireMessage.Header(
                    id: request.id, name: request.name ?? "", size: payload.count,
                    sha256: Digest.sha256(payload).hexString, encoding: "identity", offset: 0, length: payload.count)
                let prefix = WireMessage.prefix(for: header)
                // Three bytes first: too few for the client to read the header from the first frame.
                try? prefix.withUnsafeBytes { head in
                    try payload.withUnsafeBytes {
                        try connection.send(
                            binaryParts: [
                                UnsafeRawBufferPointer(rebasing: head[..<3]),
                                UnsafeRawBufferPointer(rebasing: head[3...]),
                                $0,
                            ])
                    }
                }
            }
        }
        server.start()
        defer { server.stop() }
        let client = WeightClient(configuration: WeightClient.Configuration(url: "ws://127.0.0.1:\(server.port)"))
        defer { client.close() }
        for algorithm in [DigestAlgorithm.sha256, .blake3] {
            let object = try await client.get(
                .get, name: "layer_0", expectedLength: payload.count, algorithm: algorithm)
            #expect(object.payload.withUnsafeBytes { Array($0) } == payload)
            #expect(object.payloadDigest == ContentDigest(algorithm, Digest.hash(payload, with: algorithm).hexString))
        }
    }
}
