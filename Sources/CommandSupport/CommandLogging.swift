import Logging

/// The tools' log: lines on standard error from `level` up.
public enum CommandLogging {
    /// Sends every logger's messages from `level` up to standard error (once per process) and
    /// returns the tool's own logger.
    public static func bootstrap(_ label: String, level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
