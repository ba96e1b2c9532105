import Foundation

/// Paths in this checkout, for tests that read committed fixtures or run the repository's scripts.
enum Repository {
    /// The checkout's root directory.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Support
        .deletingLastPathComponent()  // StreamingWeightsTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// A path below the root.
    static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    /// The Python interpreter with the reference packages that scripts/bootstrap installs.
    static var python: String {
        ProcessInfo.processInfo.environment["STREAMING_WEIGHTS_PYTHON"] ?? path(".venv/bin/python")
    }
}

/// A directory that is removed when the value is dropped.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "streaming-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String {
        (path as NSString).appendingPathComponent(name)
    }
}

/// What a finished process printed and how it exited.
struct ProcessResult {
    let status: Int32
    let standardOutput: Data
    let standardError: String

    var outputText: String { String(decoding: standardOutput, as: UTF8.self) }
}

enum ProcessRunner {
    /// Runs `executable` with `arguments`, feeding `input` to its standard input, and waits.
    ///
    /// Standard input and standard error go through temporary files, so a process that writes
    /// a lot cannot block on a full pipe while this is busy with another.
    static func run(
        _ executable: String, _ arguments: [String], input: Data? = nil, environment: [String: String]? = nil
    ) throws -> ProcessResult {
        let scratch = try TemporaryDirectory()
        let inputPath = scratch.file("stdin")
        let errorPath = scratch.file("stderr")
        try (input ?? Data()).write(to: URL(fileURLWithPath: inputPath))
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let inputHandle = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        let errorHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        defer {
            try? inputHandle.close()
            try? errorHandle.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errorHandle
        process.standardInput = inputHandle
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errorText = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        return ProcessResult(status: process.terminationStatus, standardOutput: outputData, standardError: errorText)
    }
}

/// A process that runs while a test does (a local server), stopped when the value is dropped.
final class BackgroundProcess {
    let process = Process()
    private let output = Pipe()
    /// Held open while this value lives: servers that stop at end of input stop with it.
    private let input = Pipe()

    /// Where standard error goes with `captureStandardError`.
    private let errorFile: TemporaryDirectory?

    /// Starts `executable`; ``firstLine()`` waits for what it prints first.
    ///
    /// - Parameter captureStandardError: keep what it writes to standard error
    ///   (``standardError``) rather than discard it.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        captureStandardError: Bool = false
    ) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = output
        errorFile = captureStandardError ? try TemporaryDirectory() : nil
        if let errorFile {
            _ = FileManager.default.createFile(atPath: errorFile.file("stderr"), contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorFile.file("stderr")))
        } else {
            process.standardError = FileHandle.nullDevice
        }
        process.standardInput = input
        try process.run()
    }

    /// What the process wrote to standard error so far (with `captureStandardError`).
    var standardError: String {
        errorFile.flatMap { try? String(contentsOfFile: $0.file("stderr"), encoding: .utf8) } ?? ""
    }

    /// The first line the process printed (for a server, the port it listens on).
    func firstLine() throws -> String {
        var line: [UInt8] = []
        while true {
            let byte = try output.fileHandleForReading.read(upToCount: 1) ?? Data()
            guard let first = byte.first else { break }
            if first == 0x0a { break }
            line.append(first)
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Stops the process at once (SIGKILL: a child of this test process may inherit a mask
    /// that blocks SIGTERM).
    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { kill() }
}
