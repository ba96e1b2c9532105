import Foundation
import StreamingWeights

/// A TCP listener on 127.0.0.1 that records every connection made to it (and the first line
/// each sent), answering each with `response` (or closing it at once).
///
/// Given as an endpoint, or as every proxy a process would use (``proxyEnvironment``), it shows
/// whether that process tried to reach anything at all, here or on the internet.
final class ConnectionRecorder: @unchecked Sendable {
    private let listener: POSIXSocket
    private let lines = Locked<[String]>([])

    init(response: [UInt8]? = nil) throws {
        listener = try POSIXSocket.listen(host: "127.0.0.1", port: 0)
        let listener = listener
        let lines = lines
        let thread = Thread {
            while let client = try? listener.accept() {
                client.setTimeouts(read: 2, write: 2)
                let head = (try? client.read()) ?? []
                let line = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
                lines.withLock { $0.append(line) }
                if let response { try? client.write(response) }
                client.close()
            }
        }
        thread.start()
    }

    deinit { listener.close() }

    var port: Int { listener.port }

    /// The first line of each connection so far (empty for one that sent nothing).
    var connections: [String] { lines.withLock { $0 } }

    /// Proxy variables that send a process's every HTTP(S) request here, wherever it was going.
    var proxyEnvironment: [String: String] {
        let proxy = "http://127.0.0.1:\(port)"
        return [
            "http_proxy": proxy, "https_proxy": proxy, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy,
            "all_proxy": proxy, "ALL_PROXY": proxy,
        ]
    }
}
