import ArgumentParser
import Foundation

extension AsyncParsableCommand {
    /// Parses the command line and runs the command, as argument-parser's `main()` does, with
    /// two differences a user notices.
    ///
    /// A word such as `-dash` is not read as the short options `-d -a -s -h`, one of which asks
    /// for help (argument-parser would print the help and exit 0): it is an unknown option. And
    /// an unknown option's error ends with `hint` (for `infer`: put texts that start with a dash
    /// after `--`). Help goes to standard output with status 0; errors to standard error with
    /// argument-parser's status.
    public static func runAsTool(
        _ arguments: [String] = Array(CommandLine.arguments.dropFirst()), unknownOptionHint hint: String? = nil
    ) async {
        do {
            let options = arguments.prefix { $0 != "--" }
            if let grouped = options.first(where: { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0.count > 2 }),
                grouped != "-help"
            {
                throw ValidationError("Unknown option '\(grouped)'")
            }
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            var message = fullMessage(for: error)
            guard code != .success else {
                if !message.isEmpty { print(message) }
                Foundation.exit(code.rawValue)
            }
            if let hint, message.contains("Unknown option") {
                message += "\n" + hint
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(code.rawValue)
        }
    }
}
