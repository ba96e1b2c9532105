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
            bytes: object.payload, digest: object.payloadDigest,
            claimed: ContentDigest(.sha256, object.header.sha256))
    }

    public func object(name: String, file: String, size: Int, algorithm: DigestAlgorithm) async throws
        -> TransportedObject
    {
        let object = try await client.get(.get, name: name, expectedLength: size, algorithm: algorithm)
        return TransportedObject(bytes: object.payload, digest: object.payloadDigest)
    }

    public func close() { client.close() }
}
