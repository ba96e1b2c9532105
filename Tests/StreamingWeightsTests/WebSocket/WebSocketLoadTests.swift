import Foundation
import Testing

/// Run by scripts/test on its own, after the other tests: it keeps both cores busy for about
/// 30 seconds, which would starve the timing-sensitive tests running beside it.
@Suite(
    "The WebSocket server under load",
    .enabled(
        if: isReleaseBuild, "256 clients x 100 MB take many minutes in a debug build; scripts/test runs it in release")
)
struct WebSocketLoadTests {
    @Test("256 clients each exchange 100 messages of 1 MB with the echo server: every byte checked, memory bounded")
    func manyClients() throws {
        let bench = Executables.path("streaming-weights-bench")
        let server = try BackgroundProcess(bench, ["echo-server"])
        let port = try server.firstLine()
        let result = try ProcessRunner.run(
            bench, ["websocket-load", "--url", "ws://127.0.0.1:\(port)/", "--clients", "256", "--messages", "100"])
        #expect(result.status == 0, "\(result.standardError)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
        #expect(report["failure_count"] as? Int == 0, "\(report["failures"] ?? "")")
        #expect(report["bytes_checked"] as? Int == 256 * 100 * 1_000_000)
        // Per connection the server holds one message being assembled and its 64 KiB read
        // buffer; sends are not copied. The bound allows twice that, plus the runtime.
        let peak = try ProcessStatus.mebibytes("VmHWM", of: server.process.processIdentifier)
        #expect(peak < 256 * 2 * 1.25 + 100, "peak RSS \(peak) MiB")
        print("websocket load: \(report["seconds"] ?? 0) s, server peak RSS \(Int(peak)) MiB")
    }
}
