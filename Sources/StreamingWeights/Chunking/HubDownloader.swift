import Foundation

/// Downloads a model repository from a Hugging Face hub (`$HF_ENDPOINT`) into the hub's cache
/// layout, the one `huggingface_hub` reads:
/// `models--ORG--NAME/blobs/<etag>`, `snapshots/<commit>/<file>` -> `../../blobs/<etag>`,
/// `refs/main` holding the commit.
///
/// It fetches only what a chunker needs — `config.json`, the weights (`model.safetensors`, a
/// sharded index and its shards, or `pytorch_model.bin`) and the tokenizer files — resumes an
/// interrupted file with a `Range` request, checks each file's size against the hub's, and moves
/// it into place only when complete.
public struct HubDownloader: Sendable {
    /// The files a chunk set needs besides the weights, when the repository has them.
    static let tokenizerFiles = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

    /// Whether `file` is one of the sentence-transformers settings a model may have
    /// (``SentenceEmbeddingSettings``): `modules.json`, `sentence_bert_config.json`, a pooling
    /// module's `N_Pooling/config.json`, a dense module's `N_Dense/config.json` and weights.
    static func isSentenceTransformerFile(_ file: String) -> Bool {
        if [SentenceEmbeddingSettings.modulesFile, "sentence_bert_config.json"].contains(file) { return true }
        let parts = file.split(separator: "/")
        guard parts.count == 2 else { return false }
        if parts[0].hasSuffix("_Pooling") { return parts[1] == "config.json" }
        return parts[0].hasSuffix("_Dense") && (["config.json"] + DenseModule.weightFiles).contains(String(parts[1]))
    }
    /// Attempts per file before a transport failure is final.
    static let attempts = 4

    /// The hub's base URL.
    public let endpoint: String
    /// `HF_TOKEN`, sent as a bearer token.
    let token: String?

    /// - Throws: ``HubError/invalidEndpoint(_:)`` for an `HF_ENDPOINT` that is not http(s).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw HubError.invalidEndpoint(endpoint)
        }
        self.endpoint = endpoint
        token = environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"]
    }

    private var authorization: [(String, String)] {
        token.map { [("Authorization", "Bearer \($0)")] } ?? []
    }

    /// Downloads `repository` (`ORG/NAME`) at `main` into `cache`.
    ///
    /// - Returns: the snapshot directory and the commit.
    /// - Throws: ``HubError`` naming the URL and what went wrong.
    public func download(
        repository: String,
        into cache: String,
        progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil
    ) throws -> (directory: String, commit: String) {
        guard repository.split(separator: "/").count <= 2, !repository.contains(".."), !repository.hasPrefix("/") else {
            throw HubError.invalidRepository(repository)
        }
        let (commit, files) = try listing(of: repository)
        let folder = (cache as NSString).appendingPathComponent(ModelSource.cacheFolder(forRepository: repository))
        let snapshot = (folder as NSString).appendingPathComponent("snapshots/" + commit)
        guard files.contains("config.json") else {
            throw HubError.missingFile(repository: repository, file: "config.json")
        }

        var wanted =
            ["config.json"] + Self.tokenizerFiles.filter(files.contains)
            + files.filter(Self.isSentenceTransformerFile).sorted()
        if files.contains("model.safetensors") {
            wanted.append("model.safetensors")
        } else if files.contains("model.safetensors.index.json") {
            try fetch(
                "model.safetensors.index.json", repository: repository, commit: commit, folder: folder,
                progress: progress)
            wanted += try Checkpoint.shards(
                inIndex: (snapshot as NSString).appendingPathComponent("model.safetensors.index.json"))
        } else if files.contains("pytorch_model.bin") {
            wanted.append("pytorch_model.bin")
        } else {
            throw HubError.missingFile(repository: repository, file: Checkpoint.weightFiles.joined(separator: " or "))
        }
        for file in wanted {
            try fetch(file, repository: repository, commit: commit, folder: folder, progress: progress)
        }
        let references = (folder as NSString).appendingPathComponent("refs")
        try FileManager.default.createDirectory(atPath: references, withIntermediateDirectories: true)
        let writer = try FileWriter(path: (references as NSString).appendingPathComponent("main"))
        try writer.write(Array(commit.utf8))
        try writer.commit()
        return (snapshot, commit)
    }

    /// The commit of `main` and the repository's file names, from the hub's model API.
    func listing(of repository: String) throws -> (commit: String, files: Set<String>) {
        let url = "\(endpoint)/api/models/\(repository)/revision/main"
        let (response, body) = try HTTPClient.data(HTTPRequest(url: url, headers: authorization))
        switch response.status {
        case 200: break
        case 401, 403, 404: throw HubError.repositoryNotFound(repository: repository, status: response.status)
        default: throw HubError.httpStatus(url: url, status: response.status)
        }
        guard let info = try? body.withUnsafeBytes({ try JSONParser.parse($0) }).objectValue,
            let commit = info["sha"]?.stringValue, commit.count == 40, commit.allSatisfy(\.isHexDigit),
            let siblings = info["siblings"]?.arrayValue
        else { throw HubError.invalidResponse(url: url, problem: "no commit 'sha' and 'siblings' list") }
        let files = siblings.compactMap { $0.objectValue?["rfilename"]?.stringValue }
        return (commit, Set(files))
    }

    /// Downloads one file into `blobs/` (resuming a partial one) and links it from the snapshot.
    func fetch(
        _ file: String,
        repository: String,
        commit: String,
        folder: String,
        progress: (@Sendable (String, Int64, Int64?) -> Void)?
    ) throws {
        try StorageError.validate(file)
        let url = "\(endpoint)/\(repository)/resolve/\(commit)/\(file)"
        let head = try HTTPClient.perform(
            HTTPRequest(
                method: "HEAD", url: url, headers: authorization + [("Accept-Encoding", "identity")],
                followsRedirects: false)
        )
        guard head.status == 200 || (300..<400).contains(head.status) else {
            if head.status == 404 { throw HubError.missingFile(repository: repository, file: file) }
            if head.status == 401 || head.status == 403 {
                throw HubError.repositoryNotFound(repository: repository, status: head.status)
            }
            throw HubError.httpStatus(url: url, status: head.status)
        }
        guard var etag = head.header("x-linked-etag") ?? head.header("etag") else {
            throw HubError.invalidResponse(url: url, problem: "no ETag")
        }
        if etag.hasPrefix("W/") { etag.removeFirst(2) }
        etag = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard !etag.isEmpty, !etag.contains("/"), !etag.hasPrefix(".") else {
            throw HubError.invalidResponse(url: url, problem: "ETag \(etag.debugDescription) is not a blob name")
        }
        let expectedSize = (head.header("x-linked-size") ?? head.header("content-length")).flatMap(Int64.init)
        let location = head.header("location").map { target -> String in
            target.hasPrefix("http") ? target : endpoint + (target.hasPrefix("/") ? "" : "/") + target
        }

        let blobs = (folder as NSString).appendingPathComponent("blobs")
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        let blob = (blobs as NSString).appendingPathComponent(etag)
        if !FileManager.default.fileExists(atPath: blob) {
            try downloadBlob(
                from: location ?? url, to: blob, expectedSize: expectedSize, file: file, progress: progress)
        }
        let link = ((folder as NSString).appendingPathComponent("snapshots/" + commit) as NSString)
            .appendingPathComponent(file)
        try FileManager.default.createDirectory(
            atPath: (link as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        let depth = file.split(separator: "/").count + 1
        let target = String(repeating: "../", count: depth) + "blobs/" + etag
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
    }

    /// Downloads `url` into `blob`, through `blob.incomplete`, resuming after a failed attempt.
    private func downloadBlob(
        from url: String,
        to blob: String,
        expectedSize: Int64?,
        file: String,
        progress: (@Sendable (String, Int64, Int64?) -> Void)?
    ) throws {
        let partial = blob + ".incomplete"
        if !FileManager.default.fileExists(atPath: partial) {
            _ = FileManager.default.createFile(atPath: partial, contents: nil)
        }
        var lastError: (any Error)?
        for attempt in 1...Self.attempts {
            guard let handle = FileHandle(forUpdatingAtPath: partial) else {
                throw FileError(path: partial, operation: "open", code: EACCES)
            }
            defer { try? handle.close() }
            var have = Int64(try handle.seekToEnd())
            if let expectedSize, have > expectedSize {
                try handle.truncate(atOffset: 0)
                have = 0
            }
            if let expectedSize, have == expectedSize { break }
            var headers = authorization + [("Accept-Encoding", "identity")]
            if have > 0 { headers.append(("Range", "bytes=\(have)-")) }
            do {
                var received = have
                var status = 0
                let response = try HTTPClient.perform(
                    HTTPRequest(url: url, headers: headers),
                    status: { status = $0 },
                    body: { piece in
                        // An error page is not part of the file.
                        guard (200..<300).contains(status) else { return }
                        try handle.write(contentsOf: Data(piece))
                        received += Int64(piece.count)
                        progress?(file, received, expectedSize)
                    }
                )
                if have > 0 && response.status == 200 {
                    // The server ignored the range and sent everything: keep only the new copy.
                    let whole = try Data(contentsOf: URL(fileURLWithPath: partial))
                    try whole.suffix(Int(received - have)).write(to: URL(fileURLWithPath: partial))
                } else if !(200..<300).contains(response.status) {
                    throw HubError.httpStatus(url: url, status: response.status)
                }
                lastError = nil
                break
            } catch let error as HTTPError {
                lastError = error
                if attempt < Self.attempts { Thread.sleep(forTimeInterval: 0.2 * Double(1 << attempt)) }
            }
        }
        if let lastError { throw lastError }
        let size = Int64((try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0)
        if let expectedSize, size != expectedSize {
            throw HubError.sizeMismatch(file: file, expected: expectedSize, actual: size)
        }
        guard rename(partial, blob) == 0 else { throw FileError.lastError(path: blob, operation: "rename into place") }
    }
}

/// A download from the hub that failed, naming the URL, repository or file.
public enum HubError: Error, Hashable, CustomStringConvertible {
    case invalidEndpoint(String)
    case invalidRepository(String)
    case repositoryNotFound(repository: String, status: Int)
    case missingFile(repository: String, file: String)
    case httpStatus(url: String, status: Int)
    case invalidResponse(url: String, problem: String)
    case sizeMismatch(file: String, expected: Int64, actual: Int64)

    public var description: String {
        switch self {
        case .invalidEndpoint(let endpoint):
            "HF_ENDPOINT '\(endpoint)' is not an http:// or https:// URL"
        case .invalidRepository(let repository):
            "'\(repository)' is not a repository id (ORG/NAME)"
        case .repositoryNotFound(let repository, let status):
            "the hub has no repository '\(repository)' that this token can read (HTTP \(status))"
        case .missingFile(let repository, let file):
            "repository '\(repository)' has no \(file)"
        case .httpStatus(let url, let status):
            "\(url) answered HTTP \(status)"
        case .invalidResponse(let url, let problem):
            "\(url) sent an unexpected response: \(problem)"
        case .sizeMismatch(let file, let expected, let actual):
            "downloaded \(actual) bytes of '\(file)', but the hub said \(expected)"
        }
    }
}
