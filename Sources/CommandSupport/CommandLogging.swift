import Foundation
import Logging

/// The tools' log: one line per message on standard error, `level: message`, from `level` up.
///
/// Every tool's warnings read the same way (`warning: ...`), whether they come from the
/// library's logger or from the tool itself.
public enum CommandLogging {
    /// Sends every logger's messages from `level` up to standard error (once per process) and
    /// returns the tool's own logger.
    public static func bootstrap(_ label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { _ in LineHandler(logLevel: level) }
        return Logger(label: label)
    }

    /// Writes `level: message`, then any metadata as `key=value`.
    struct LineHandler: LogHandler {
        var logLevel: Logger.Level
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let extra = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            FileHandle.standardError.write(Data("\(event.level.rawValue): \(event.message)\(extra)\n".utf8))
        }
    }
}
