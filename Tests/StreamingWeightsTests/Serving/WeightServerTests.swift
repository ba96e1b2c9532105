import Foundation
import Logging
import StreamingWeights
import Testing

/// A chunk set in a temporary directory and a `weight-server` process serving it on a free port.
///
/// For what only the command does, or only a process can suffer: its options, signals, being
/// killed and restarted, and clients that are other processes (``HostedChunks`` hosts the
/// server in the test process for the protocol's own tests).
final class ServedChunks: ServedChunkSet, @unchecked Sendable {
    let directory: TemporaryDirectory
    let manifest: ChunkManifest
    let url: String
    private var process: BackgroundProcess
    private let arguments: [String]

    init(
        model: String = ModelChunkerTests.tiny, compress: Bool = false, dtype: DType? = nil,
        weightLayout: ChunkWeightLayout = .pytorch, arguments: [String] = []
    ) async throws {
        directory = try TemporaryDirectory()
        manifest = try await ModelChunkerTests.chunk(
            model, into: directory.path, compress: compress, dtype: dtype, weightLayout: weightLayout)
        self.arguments = ["--chunks-dir", directory.path] + arguments
        process = try BackgroundProcess(Executables.path("weight-server"), self.arguments + ["--port", "0"])
        url = try process.firstLine()
    }

    /// Starts the server again on the same port (after ``kill()``).
    func restart() throws {
        let port = String(url.split(separator: ":").last ?? "")
        process = try BackgroundProcess(Executables.path("weight-server"), arguments + ["--port", port])
        _ = try process.firstLine()
    }

    /// Kills the server (SIGKILL).
    func kill() { process.kill() }

    /// Sends `signal` to the server and waits up to `timeout` seconds for it to exit; its status.
    func stop(with signal: Int32, timeout: Double) -> Int32? {
        Glibc.kill(process.process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.process.isRunning && Date() < deadline { usleep(10_000) }
        return process.process.isRunning ? nil : process.process.terminationStatus
    }
}

/// A chunk set served on `url`, by a process or in this one.
protocol ServedChunkSet {
    var url: String { get }
}

extension ServedChunkSet {
    /// A raw protocol connection: requests as text, responses parsed.
    func connect(headers: [(String, String)] = []) throws -> WebSocketConnection {
        try WebSocketClient.connect(to: url, protocols: [WireMessage.subprotocol], headers: headers).connection
    }

    /// The server's `stats` answer, over a connection of its own.
    func statistics() throws -> [String: Any] {
        let connection = try connect()
        defer { connection.close() }
        guard case .success(_, let payload) = try connection.exchange(#"{"id": 1, "op": "stats"}"#) else {
            throw WireError(code: .internal, message: "no stats")
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
    }
}

extension WebSocketConnection {
    /// Sends `text` and parses the response.
    func exchange(_ text: String) throws -> WireMessage.Response {
        try send(text: text)
        guard case .binary(let message)? = try receive() else { throw WireError(code: .internal, message: "no answer") }
        return try WireMessage.parseResponse(message)
    }
}

@Suite("The weight server")
struct WeightServerTests {
    @Test("Python's websockets, speaking the protocol, fetches every chunk and file and their hashes match")
    func pythonClient() async throws {
        let served = try await HostedChunks()
        let script = """
            import asyncio, hashlib, json, struct, sys, websockets
            async def main():
                async with websockets.connect(sys.argv[1], subprotocols=["streaming-weights.v1"], max_size=None) as ws:
                    async def get(request):
                        await ws.send(json.dumps(request))
                        message = await ws.recv()
                        size = struct.unpack("<I", message[:4])[0]
                        return json.loads(message[4:4 + size]), message[4 + size:]
                    header, payload = await get({"id": 1, "op": "manifest"})
                    manifest = json.loads(payload)
                    names = {**{n: c["sha256"] for n, c in manifest["chunks"].items()},
                             **{n: f["sha256"] for n, f in manifest["files"].items()}}
                    # Pipelined: every request first, then the answers, in any order.
                    for number, name in enumerate(sorted(names), start=2):
                        await ws.send(json.dumps({"id": number, "op": "get", "name": name}))
                    for _ in names:
                        message = await ws.recv()
                        size = struct.unpack("<I", message[:4])[0]
                        header, payload = json.loads(message[4:4 + size]), message[4 + size:]
                        assert hashlib.sha256(payload).hexdigest() == names[header["name"]] == header["sha256"], header
                    print(len(names))
            asyncio.run(main())
            """
        let result = try ProcessRunner.run(Repository.python, ["-c", script, served.url])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.outputText == "\(served.manifest.chunks.count + served.manifest.files.count)\n")
    }

    static let badRequests: [(request: String, code: WireError.Code)] = [
        (#"{"id": 1, "op": "delete"}"#, .badRequest),
        (#"{"op": "get", "name": "layer_0"}"#, .badRequest),
        (#"{"id": 2, "op": "get", "name": "layer_9"}"#, .notFound),
        (#"{"id": 3, "op": "get", "name": "../config.json"}"#, .notFound),
        (#"{"id": 4, "op": "get", "name": "/etc/passwd"}"#, .notFound),
        (#"{"id": 5, "op": "get", "name": "layer_0/../../x"}"#, .notFound),
        (#"{"id": 6, "op": "get", "name": "%2e%2e%2fconfig.json"}"#, .notFound),
        (#"{"id": 7, "op": "get", "name": "..%2Flayer_0.safetensors"}"#, .notFound),
        (#"{"id": 8, "op": "get", "name": "layer_0", "offset": 10000000}"#, .badRequest),
        (#"{"id": 9, "op": "get", "name": "layer_0", "offset": 10, "length": 10000000}"#, .badRequest),
        (#"{"id": 10, "op": "get", "name": "layer_0", "offset": -1}"#, .badRequest),
        (#"{"id": 11, "op": "get"}"#, .badRequest),
        ("{not json", .badRequest),
        ("[1, 2]", .badRequest),
        ("{\"id\": 12, \"op\": \"get\", \"pad\": \"" + String(repeating: "a", count: 10 << 20) + "\"}", .tooLarge),
    ]

    @Test("Bad requests each get an error response, and the connection stays usable")
    func badRequestsGetErrors() async throws {
        let served = try await HostedChunks()
        let connection = try served.connect()
        for (request, code) in Self.badRequests {
            guard case .failure(let id, let error) = try connection.exchange(request) else {
                Issue.record("\(request.prefix(60)) was answered with data")
                continue
            }
            #expect(error.code == code, "\(request.prefix(60)): \(error)")
            if let expected = try? WireMessage.Request(parsing: request) { #expect(id == expected.id) }
        }
        // A binary message is not a request either.
        try connection.send(binary: [1, 2, 3])
        guard case .binary(let message)? = try connection.receive(),
            case .failure(_, let error) = try WireMessage.parseResponse(message)
        else { throw WireError(code: .internal, message: "no answer to a binary message") }
        #expect(error.code == .badRequest)
        guard
            case .success(let header, let payload) = try connection.exchange(
                #"{"id": 99, "op": "get", "name": "layer_0"}"#)
        else { throw WireError(code: .internal, message: "the connection is no longer usable") }
        #expect(header.id == 99 && header.sha256 == served.manifest.chunks["layer_0"]?.sha256)
        #expect(Digest.sha256(Array(payload)).hexString == header.sha256)
        connection.close()
    }

    @Test("A byte range comes back with the whole object's size and hash")
    func ranges() async throws {
        let served = try await HostedChunks()
        let connection = try served.connect()
        guard case .success(_, let whole) = try connection.exchange(#"{"id": 1, "op": "get", "name": "pooler"}"#),
            case .success(let header, let part) = try connection.exchange(
                #"{"id": 2, "op": "get", "name": "pooler", "offset": 100, "length": 50}"#)
        else { throw WireError(code: .internal, message: "no data") }
        #expect(header.offset == 100 && header.length == 50 && header.size == whole.count)
        #expect(Array(part) == Array(whole.dropFirst(100).prefix(50)))
        connection.close()
    }

    @Test("With a token, a client without it or with another gets HTTP 401 and no WebSocket")
    func authentication() async throws {
        let served = try await HostedChunks { $0.authToken = "s3cret" }
        for headers in [[], [("Authorization", "Bearer wrong")], [("Authorization", "s3cret")]] {
            #expect {
                _ = try served.connect(headers: headers)
            } throws: { error in
                "\(error)".hasPrefix("the server refused the WebSocket upgrade with HTTP 401")
            }
        }
        let connection = try served.connect(headers: [("Authorization", "Bearer s3cret")])
        guard case .success = try connection.exchange(#"{"id": 1, "op": "manifest"}"#) else {
            throw WireError(code: .internal, message: "no manifest")
        }
        connection.close()
        await #expect(throws: WeightClient.Failure.self) {
            _ = try await StreamingBertModel(serverURL: served.url, authToken: "wrong")
        }
        // The refusal says which option carries the token.
        let withoutToken = try InferCommandTests.infer(["--server", served.url, "x"])
        #expect(withoutToken.status != 0)
        #expect(
            withoutToken.standardError.contains(
                "refused the connection: HTTP 401: this weight server needs Authorization: Bearer <token> (give the token with --auth-token-file)"
            ), "\(withoutToken.standardError)")
    }

    @Test("Past the rate limit, requests get rate_limited and the connection stays usable")
    func rateLimit() async throws {
        let served = try await HostedChunks { $0.requestsPerSecond = 5 }
        let connection = try served.connect()
        var codes: [WireError.Code?] = []
        for id in 0..<20 {
            switch try connection.exchange(#"{"id": \#(id), "op": "stats"}"#) {
            case .success: codes.append(nil)
            case .failure(_, let error): codes.append(error.code)
            }
        }
        #expect(codes.prefix(5).allSatisfy { $0 == nil })
        #expect(codes.filter { $0 == .rateLimited }.count >= 10)
        try await Task.sleep(nanoseconds: 400_000_000)
        guard case .success = try connection.exchange(#"{"id": 100, "op": "manifest"}"#) else {
            throw WireError(code: .internal, message: "still limited after a pause")
        }
        connection.close()
    }

    @Test(
        "Plain GET /healthz answers on the server's port without the token, /stats only with it; other plain requests get 400"
    )
    func plainHTTP() async throws {
        let served = try await HostedChunks { $0.authToken = "secret" }
        let base = "http://" + served.url.dropFirst("ws://".count)
        let (health, body) = try HTTPClient.data(HTTPRequest(url: base + "/healthz"))
        #expect(health.status == 200 && body == Array("ok\n".utf8))
        for headers in [[], [("Authorization", "Bearer wrong")]] {
            let (refused, reason) = try HTTPClient.data(HTTPRequest(url: base + "/stats", headers: headers))
            #expect(refused.status == 401 && reason == Array("GET /stats needs Authorization: Bearer <token>\n".utf8))
        }
        let (stats, json) = try HTTPClient.data(
            HTTPRequest(url: base + "/stats", headers: [("Authorization", "Bearer secret")]))
        #expect(stats.status == 200 && stats.header("content-type") == "application/json")
        let counters = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Int])
        #expect(counters["requests"] == 0 && (counters["connections"] ?? 0) >= 1)
        let (other, _) = try HTTPClient.data(HTTPRequest(url: base + "/chunk_info.json"))
        #expect(other.status == 400)
    }

    @Test("/healthz turns 503, naming the object, when the source loses a chunk, and ok again when it is back")
    func healthFollowsTheSource() async throws {
        let served = try await HostedChunks()
        let base = "http://" + served.url.dropFirst("ws://".count)
        let chunk = served.directory.file("layer_1.safetensors")
        let moved = served.directory.file("moved")
        #expect(try HTTPClient.data(HTTPRequest(url: base + "/healthz")).0.status == 200)
        try FileManager.default.moveItem(atPath: chunk, toPath: moved)
        // Checked at most once a second: ask again until the answer changes. Bounded by a count of
        // asks 200 ms apart, not a deadline: a loaded sanitizer run has starved this loop for over
        // 10 seconds, and each ask still waits its 200 ms.
        func ask(while unchanged: (Int) -> Bool) async throws -> (HTTPResponse, [UInt8]) {
            var (answer, asks) = (try HTTPClient.data(HTTPRequest(url: base + "/healthz")), 1)
            while unchanged(answer.0.status), asks < 100 {
                try await Task.sleep(nanoseconds: 200_000_000)
                (answer, asks) = (try HTTPClient.data(HTTPRequest(url: base + "/healthz")), asks + 1)
            }
            return answer
        }
        var answer = try await ask { $0 == 200 }
        #expect(answer.0.status == 503)
        #expect(
            String(decoding: answer.1, as: UTF8.self).hasPrefix(
                "unhealthy: 'layer_1.safetensors' is listed in the manifest but missing from directory"))
        try FileManager.default.moveItem(atPath: moved, toPath: chunk)
        answer = try await ask { $0 != 200 }
        #expect(answer.0.status == 200)
    }

    @Test("Past the budget for responses in flight, requests get rate_limited until the held object is sent")
    func inFlightBudget() async throws {
        let served = try await HostedChunks(model: miniLMDirectory) {
            $0.maximumInFlightBytes = 1 << 20
            $0.cacheBytes = 0
        }
        let connection = try served.connect()
        // MiniLM's 47 MB embeddings, not read yet, stay in flight: more than the socket buffers
        // hold (up to 32 MB received and 4 MB sent here).
        try connection.send(text: #"{"id": 1, "op": "get", "name": "embeddings"}"#)
        try await Task.sleep(nanoseconds: 300_000_000)
        try connection.send(text: #"{"id": 2, "op": "get", "name": "layer_0"}"#)
        try connection.send(text: #"{"id": 3, "op": "get", "name": "layer_1"}"#)
        // Their answers wait behind the embeddings: wait until the server has decided on all
        // three (its counters say so) before reading, or a busy machine could run request 3
        // only after the embeddings were read and released.
        let port = try #require(Int(served.url.split(separator: ":").last ?? ""))
        let deadline = Date().addingTimeInterval(30)
        while try serverStatistics(port: port)["requests"] ?? 0 < 3, Date() < deadline {
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        var answers: [Int: WireMessage.Response] = [:]
        for _ in 0..<3 {
            guard case .binary(let message)? = try connection.receive() else {
                throw WireError(code: .internal, message: "no answer")
            }
            let response = try WireMessage.parseResponse(message)
            switch response {
            case .success(let header, _): answers[header.id] = response
            case .failure(let id, _): answers[id ?? -1] = response
            }
        }
        guard case .success(let header, _)? = answers[1] else {
            throw WireError(code: .internal, message: "no embeddings")
        }
        #expect(header.length == served.manifest.chunks["embeddings"]?.size)
        for id in [2, 3] {
            guard case .failure(_, let error)? = answers[id] else {
                Issue.record("request \(id) was served past the budget")
                continue
            }
            #expect(error.code == .rateLimited && error.message.contains("in flight"))
        }
        // Sent, so released: the same request now succeeds on the same connection.
        guard case .success = try connection.exchange(#"{"id": 4, "op": "get", "name": "layer_0"}"#) else {
            throw WireError(code: .internal, message: "still refused after the embeddings were sent")
        }
        connection.close()
    }

    @Test(
        "SIGTERM stops the server gracefully: connected clients get close 1001 and it exits 0",
        arguments: [SIGTERM, SIGINT])
    func gracefulShutdown(signal: Int32) async throws {
        let served = try await ServedChunks()
        let connection = try served.connect()
        guard case .success = try connection.exchange(#"{"id": 1, "op": "manifest"}"#) else {
            throw WireError(code: .internal, message: "no manifest")
        }
        // Required: a server still running would leave the receive below waiting.
        try #require(served.stop(with: signal, timeout: 10) == 0)
        #expect(try connection.receive() == nil)
        #expect(connection.peerClose?.code == 1001)
    }

    @Test("Concurrent requests for one chunk read storage once; stats count hits, misses and bytes")
    func cacheAndStats() async throws {
        let served = try await HostedChunks()
        let connections = try (0..<8).map { _ in try served.connect() }
        let answered = DispatchSemaphore(value: 0)
        for connection in connections {
            Thread {
                if case .success = try? connection.exchange(#"{"id": 1, "op": "get", "name": "embeddings"}"#) {
                    answered.signal()
                }
            }.start()
        }
        for _ in connections { #expect(answered.wait(timeout: .now() + 10) == .success) }
        let statistics = try served.statistics()
        #expect(statistics["cache_misses"] as? Int == 1 && statistics["cache_hits"] as? Int == 7)
        #expect(statistics["bytes_served"] as? Int == 8 * (served.manifest.chunks["embeddings"]?.size ?? 0))
        #expect(statistics["connections"] as? Int == 9)
        #expect(statistics["requests"] as? Int == 8)
        for connection in connections { connection.close() }
    }
}
