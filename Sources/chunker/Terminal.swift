import CommandSupport
import Foundation
import Logging

/// What the chunker shows on the terminal: log lines and a progress bar.
enum Terminal {
    /// Sends the library's log to standard error: everything with --verbose, else warnings.
    static func bootstrapLogging(verbose: Bool) -> Logger {
        CommandLogging.bootstrap("chunker", level: verbose ? .info : .warning)
    }
}

/// A one-line progress bar on a terminal; plain lines (or nothing) when standard error is not one.
final class ProgressBar: @unchecked Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var drawn = false

    /// Shows `label` with a bar filled to `fraction` (0...1) on a terminal, or prints `plain` elsewhere.
    func update(_ label: String, fraction: Double?, plain: String?) {
        lock.withLock {
            if isTerminal {
                let width = 30
                let filled = Int((min(max(fraction ?? 0, 0), 1) * Double(width)).rounded())
                let bar =
                    fraction == nil
                    ? ""
                    : "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                FileHandle.standardError.write(Data("\r\u{1B}[K\(bar)\(label)".utf8))
                drawn = true
            } else if let plain {
                FileHandle.standardError.write(Data("\(plain)\n".utf8))
            }
        }
    }

    /// Ends the bar's line.
    func finish() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
            drawn = false
        }
    }
}
