import Foundation
import StreamingWeights
import Testing

/// A chunk set in a temporary directory and a ``WeightServer`` hosted in the test process
/// serving it on a free port, configured as a test needs; stopped when dropped.
///
/// The server runs its requests on an executor of its own, so the tests' blocking calls cannot
/// starve it. (``ServedChunks`` runs the `weight-server` binary instead, for what only the
/// command does: signals, its options, a process to kill.)
final class HostedChunks: ServedChunkSet, @unchecked Sendable {
    let directory: TemporaryDirectory
    let manifest: ChunkManifest
    let server: WeightServer
    let url: String

    init(
        model: String = ModelChunkerTests.tiny, configure: (inout WeightServer.Configuration) -> Void = { _ in }
    ) async throws {
        directory = try TemporaryDirectory()
        manifest = try await ModelChunkerTests.chunk(model, into: directory.path)
        var configuration = WeightServer.Configuration()
        configuration.port = 0
        configure(&configuration)
        server = try await WeightServer(
            storage: try FileSystemBackend(root: directory.path), configuration: configuration)
        url = "ws://127.0.0.1:\(server.port)"
    }

    deinit { server.stop(gracePeriod: 0.5) }
}

/// A weight server hosted in the test process over `InMemoryBackend`: its requests run on an
/// executor of its own, so a test's blocking calls cannot starve it (the command's own behaviour
/// is tested through the `weight-server` binary, in WeightServerTests and WeightServerCommandTests).
@Suite("The weight server, in process")
struct WeightServerInProcessTests {
    /// bert-tiny's chunk set in memory, served on a free port.
    static func serve() async throws -> (server: WeightServer, manifest: ChunkManifest, url: String) {
        let storage = InMemoryBackend()
        let manifest = try await ModelChunker(modelName: ModelChunkerTests.tiny, storage: storage).chunkModel()
        var configuration = WeightServer.Configuration()
        configuration.port = 0
        let server = try await WeightServer(storage: storage, configuration: configuration)
        return (server, manifest, "ws://127.0.0.1:\(server.port)")
    }

    @Test("Every chunk and file comes back with its manifest hash over blocking connections from this process")
    func blockingClients() async throws {
        let (server, manifest, url) = try await Self.serve()
        defer { server.stop(gracePeriod: 1) }
        let names = Array(manifest.chunks.keys) + Array(manifest.files.keys)
        let hashes = Dictionary(
            uniqueKeysWithValues: manifest.chunks.map { ($0.key, $0.value.sha256) }
                + manifest.files.map { ($0.key, $0.value.sha256) })
        // Four connections at once, each a blocking client, as a test (or an app) might run them.
        let received = Locked<[String: String]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slice in 0..<4 {
                group.addTask {
                    let connection = try WebSocketClient.connect(to: url, protocols: [WireMessage.subprotocol])
                        .connection
                    defer { connection.close() }
                    for (id, name) in names.enumerated() where id % 4 == slice {
                        guard
                            case .success(let header, let payload) = try connection.exchange(
                                #"{"id": \#(id), "op": "get", "name": "\#(name)"}"#)
                        else { throw WireError(code: .internal, message: "no \(name)") }
                        #expect(header.sha256 == hashes[name])
                        received.withLock { $0[name] = Digest.sha256(Array(payload)).hexString }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(received.withLock { $0 } == hashes)
        #expect(server.statistics.requests == names.count)
    }

    @Test("A streamed model through the in-process server equals the local one")
    func streamedModel() async throws {
        let (server, _, url) = try await Self.serve()
        defer { server.stop(gracePeriod: 1) }
        let local = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: local.path)
        let (batch, expected) = try await StreamingBertModelTests.expected(local.path)
        let streamed = try await StreamingBertModel(serverURL: url, cacheSize: 1)
        #expect(try await streamed.forward(batch).lastHiddenState == expected.lastHiddenState)
        streamed.source.transport.close()
    }

    @Test("With every cooperative thread blocked, the server still answers")
    func cooperativePoolBlocked() async throws {
        let (server, manifest, url) = try await Self.serve()
        defer { server.stop(gracePeriod: 1) }
        // From a thread of our own (this test's task must not hold a pool thread meanwhile):
        // hold every thread of Swift's cooperative pool (one per core) in a blocking wait, as a
        // host's blocking calls would, ask the server, then let the pool go.
        let answer = await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            Thread {
                let release = DispatchSemaphore(value: 0)
                let held = DispatchSemaphore(value: 0)
                for _ in 0..<System.coreCount {
                    Task.detached {
                        held.signal()
                        release.wait()
                    }
                }
                for _ in 0..<System.coreCount { held.wait() }
                var answer: String?
                do {
                    // Without an answer in 20 s the exchange fails (a server on the pool would hang).
                    var timeouts = WebSocketConnection.Timeouts()
                    timeouts.idle = 20
                    let connection = try WebSocketClient.connect(
                        to: url, protocols: [WireMessage.subprotocol], timeouts: timeouts
                    ).connection
                    if case .success(let header, _) = try connection.exchange(
                        #"{"id": 1, "op": "get", "name": "layer_0"}"#)
                    {
                        answer = header.sha256
                    }
                    connection.close()
                } catch {
                    answer = "\(error)"
                }
                for _ in 0..<System.coreCount { release.signal() }
                continuation.resume(returning: answer)
            }.start()
        }
        #expect(answer == manifest.chunks["layer_0"]?.sha256)
    }
}
