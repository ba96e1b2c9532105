import Foundation
import Testing

#if DEBUG
    let isReleaseBuild = false
#else
    let isReleaseBuild = true
#endif

/// Figures of a process from `/proc/PID/status`.
enum ProcessStatus {
    /// Field `field` (`VmRSS`, `VmHWM`, ...) of process `pid` (this one by default), in MiB.
    static func mebibytes(_ field: String, of pid: Int32 = getpid()) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("\(field):") })
        let kilobytes = try #require(Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes / 1024
    }
}
