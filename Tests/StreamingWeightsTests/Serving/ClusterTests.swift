import Foundation
import StreamingWeights
import Testing

/// Counts passes done across the clients.
private actor Progress {
    private(set) var passes = 0
    func add() { passes += 1 }
}

/// A server's counters, from its `GET /stats`.
func serverStatistics(port: Int) throws -> [String: Int] {
    let (response, body) = try HTTPClient.data(HTTPRequest(url: "http://127.0.0.1:\(port)/stats"))
    #expect(response.status == 200)
    return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Int])
}

@Suite("A cluster: S3, three weight servers and nginx (streaming_weights_testing.cluster)", .serialized)
struct ClusterTests {
    @Test(
        "16 clients stream MiniLM through nginx; one server is killed mid-run; every output equals the local model's and the survivors share the load"
    )
    func failover() async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(miniLMDirectory, into: chunks.path)
        let bin = (Executables.path("weight-server") as NSString).deletingLastPathComponent
        let cluster = try ScriptService("cluster", ["--chunks", chunks.path, "--bin", bin, "--servers", "3"])
        let url = try cluster.string("url")
        let servers = try #require(cluster.details["servers"] as? [[String: Any]]).compactMap {
            server -> (port: Int, pid: Int32)? in
            guard let port = server["port"] as? Int, let pid = server["pid"] as? Int else { return nil }
            return (port, Int32(pid))
        }
        try #require(servers.count == 3)
        let (batch, expected) = try await StreamingBertModelTests.expected(chunks.path)

        let clients = 16
        let passes = 4
        let progress = Progress()
        let (wrong, victim) = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let model = try await StreamingBertModel(source: url, cacheSize: 2, prefetchDepth: 1)
                    defer { model.source.transport.close() }
                    var wrong = 0
                    for _ in 0..<passes {
                        let output = try await model.forward(batch, threads: ComputeThreads(count: 1))
                        if output.lastHiddenState != expected.lastHiddenState { wrong += 1 }
                        await progress.add()
                    }
                    return wrong
                }
            }
            // Once every client has done about one pass, the server with the most
            // connections dies (SIGKILL: no close frames, no goodbye).
            while await progress.passes < clients { try await Task.sleep(for: .milliseconds(20)) }
            let connections = try servers.map { try serverStatistics(port: $0.port)["connections"] ?? 0 }
            let index = connections.indices.max { connections[$0] < connections[$1] } ?? 0
            kill(servers[index].pid, SIGKILL)
            var wrong = 0
            for try await count in group { wrong += count }
            return (wrong, (index: index, connections: connections[index]))
        }
        #expect(await progress.passes == clients * passes)
        #expect(wrong == 0)
        // The killed server had clients (its count includes the stats request itself), which
        // finished on the others.
        #expect(victim.connections >= 2, "connections of the killed server: \(victim.connections)")
        let survivors = try servers.indices.filter { $0 != victim.index }.map {
            try serverStatistics(port: servers[$0].port)
        }
        let requests = survivors.map { $0["requests"] ?? 0 }
        let total = requests.reduce(0, +)
        for count in requests {
            #expect(count * 5 >= total, "requests per surviving server: \(requests)")
        }
    }

    @Test(
        "wss:// to nginx (with --ca-file), and from nginx to the servers when they serve TLS too; the bearer token passes through; a wrong token is refused",
        arguments: [false, true])
    func tlsAndTokenThroughProxy(tlsUpstream: Bool) async throws {
        let chunks = try TemporaryDirectory()
        _ = try await ModelChunkerTests.chunk(into: chunks.path)
        let tokenFile = chunks.file("token")
        try Data("s3cret-token\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        let bin = (Executables.path("weight-server") as NSString).deletingLastPathComponent
        let cluster = try ScriptService(
            "cluster",
            ["--chunks", chunks.path, "--bin", bin, "--servers", "2", "--tls", "--auth-token-file", tokenFile]
                + (tlsUpstream ? ["--tls-upstream"] : []))
        let url = try cluster.string("url")
        #expect(url.hasPrefix("wss://"))
        let servers = try #require(cluster.details["servers"] as? [[String: Any]])
        #expect(servers.allSatisfy { ($0["url"] as? String)?.hasPrefix(tlsUpstream ? "wss://" : "ws://") == true })
        let (batch, expected) = try await StreamingBertModelTests.expected(chunks.path)
        var options = ChunkSource.Options()
        options.caFile = try cluster.string("ca_file")
        options.authToken = "s3cret-token"
        let model = try await StreamingBertModel(source: url, options: options, cacheSize: 1)
        #expect(try await model.forward(batch).lastHiddenState == expected.lastHiddenState)
        options.authToken = "wrong"
        let refused = await #expect(throws: WeightClient.Failure.self) {
            try await StreamingBertModel(source: url, options: options)
        }
        #expect("\(refused.map(String.init(describing:)) ?? "")".contains("401"))
        // Without the CA file the proxy's self-signed certificate is not trusted.
        options.caFile = nil
        options.authToken = "s3cret-token"
        await #expect(throws: (any Error).self) { try await StreamingBertModel(source: url, options: options) }
    }
}
