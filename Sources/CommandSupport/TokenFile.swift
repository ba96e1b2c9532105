import ArgumentParser
import Foundation

/// A bearer token kept in a file (`--auth-token-file`), so it stays out of process listings.
public enum TokenFile {
    /// The token in `path`, without surrounding whitespace.
    ///
    /// - Throws: a `ValidationError` naming the file when it cannot be read or is empty.
    public static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("Cannot read --auth-token-file '\(path)'.")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ValidationError("--auth-token-file '\(path)' is empty.") }
        return token
    }
}
