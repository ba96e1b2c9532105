import Foundation

/// A weight server over one persistent WebSocket connection (``WeightClient``): objects are
/// asked for by name and hashed while they arrive.
public struct WeightServerTransport: ChunkTransport {
    public let client: WeightClient

    public init(client: WeightClient) {
        self.client = client
    }

    public var location: String { client.configuration.url }

    public func manifest() async throws -> TransportedObject {
        let object = try await client.get(.manifest)
        return TransportedObject(
            bytes: ByteStorage(keeping: object.payload), sha256: object.payloadSHA256,
            claimedSHA256: object.header.sha256)
    }

    public func object(name: String, file: String, size: Int) async throws -> TransportedObject {
        let object = try await client.get(.get, name: name, expectedLength: size)
        return TransportedObject(bytes: ByteStorage(keeping: object.payload), sha256: object.payloadSHA256)
    }

    public func close() { client.close() }
}
