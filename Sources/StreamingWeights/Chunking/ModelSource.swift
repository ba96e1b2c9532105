import Foundation

/// Where a model named on the command line comes from (docs/FORMAT.md, ../shared/DESIGN.md section 4).
///
/// In order: a directory path holding `config.json`; `NAME` under each folder of
/// `$STREAMING_WEIGHTS_MODELS` (colon-separated) and then `./Fixtures`; the Hugging Face cache
/// (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`, layout
/// `models--ORG--NAME/refs/main` -> `snapshots/<commit>/`); and a download from `$HF_ENDPOINT`
/// into that cache unless offline. A name that resolves nowhere is an error listing everything tried.
public struct ModelSource: Sendable {
    /// How a model was found.
    public enum Origin: Sendable, Equatable {
        case directory
        case modelsFolder(String)
        case huggingFaceCache(commit: String)
        case downloaded(commit: String)
    }

    /// The model's name as given.
    public let name: String
    /// The model's name for a manifest: the hub id or name given, or a directory's base name
    /// (never a local path as typed).
    public var modelName: String {
        guard origin == .directory else { return name }
        let base = ((directory as NSString).standardizingPath as NSString).lastPathComponent
        return base.isEmpty ? name : base
    }
    /// The local directory holding `config.json` and the weights.
    public let directory: String
    public let origin: Origin

    /// The Hugging Face cache directory `environment` selects.
    public static func huggingFaceCache(environment: [String: String]) -> String {
        if let cache = environment["HF_HUB_CACHE"], !cache.isEmpty { return cache }
        if let home = environment["HF_HOME"], !home.isEmpty { return (home as NSString).appendingPathComponent("hub") }
        let user = environment["HOME"] ?? NSHomeDirectory()
        return (user as NSString).appendingPathComponent(".cache/huggingface/hub")
    }

    /// The cache folder of a repository: `models--ORG--NAME`.
    public static func cacheFolder(forRepository repository: String) -> String {
        "models--" + repository.replacingOccurrences(of: "/", with: "--")
    }

    /// Finds `name` without touching the network.
    ///
    /// - Returns: the source, or `nil` with `tried` filled in when it is nowhere local.
    /// - Throws: ``ChunkingError/incompleteModel(_:)`` for a directory without config.json.
    static func resolveLocally(
        _ name: String,
        environment: [String: String],
        currentDirectory: String,
        tried: inout [String]
    ) throws -> ModelSource? {
        let fileManager = FileManager.default
        func hasConfig(_ directory: String) -> Bool {
            fileManager.fileExists(atPath: (directory as NSString).appendingPathComponent("config.json"))
        }
        var isDirectory: ObjCBool = false
        let asPath =
            (name as NSString).isAbsolutePath ? name : (currentDirectory as NSString).appendingPathComponent(name)
        if fileManager.fileExists(atPath: asPath, isDirectory: &isDirectory), isDirectory.boolValue {
            guard hasConfig(asPath) else {
                throw ChunkingError.incompleteModel("the directory '\(name)' has no config.json")
            }
            return ModelSource(name: name, directory: asPath, origin: .directory)
        }
        tried.append("a directory '\(asPath)'")
        let folders =
            (environment["STREAMING_WEIGHTS_MODELS"] ?? "").split(separator: ":").map(String.init)
            + [(currentDirectory as NSString).appendingPathComponent("Fixtures")]
        for folder in folders {
            let candidate = (folder as NSString).appendingPathComponent(name)
            if hasConfig(candidate) {
                return ModelSource(name: name, directory: candidate, origin: .modelsFolder(folder))
            }
            tried.append("'\(candidate)'")
        }
        let cache = huggingFaceCache(environment: environment)
        let repository = (cache as NSString).appendingPathComponent(cacheFolder(forRepository: name))
        let reference = (repository as NSString).appendingPathComponent("refs/main")
        if let commit = try? String(contentsOfFile: reference, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines),
            !commit.isEmpty, !commit.contains("/")
        {
            let snapshot = (repository as NSString).appendingPathComponent("snapshots/" + commit)
            if hasConfig(snapshot) {
                return ModelSource(name: name, directory: snapshot, origin: .huggingFaceCache(commit: commit))
            }
        }
        tried.append("the Hugging Face cache '\(repository)'")
        return nil
    }

    /// Finds `name` locally, or downloads it into the Hugging Face cache.
    ///
    /// - Parameters:
    ///   - offline: skip the download (also when `HF_HUB_OFFLINE=1`).
    ///   - progress: called as bytes arrive, with the file name, bytes so far and the total.
    /// - Throws: ``ChunkingError/modelNotFound(_:tried:)`` listing everything tried, or the
    ///   download's error.
    public static func resolve(
        _ name: String,
        offline: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        progress: (@Sendable (String, Int64, Int64?) -> Void)? = nil
    ) async throws -> ModelSource {
        var tried: [String] = []
        if let local = try resolveLocally(
            name, environment: environment, currentDirectory: currentDirectory, tried: &tried)
        {
            return local
        }
        let isOffline = offline || ["1", "true", "yes"].contains(environment["HF_HUB_OFFLINE"]?.lowercased() ?? "")
        guard !isOffline else {
            tried.append("no download: offline (--offline or HF_HUB_OFFLINE=1)")
            throw ChunkingError.modelNotFound(name, tried: tried)
        }
        let downloader = try HubDownloader(environment: environment)
        do {
            let (directory, commit) = try downloader.download(
                repository: name,
                into: huggingFaceCache(environment: environment),
                progress: progress
            )
            return ModelSource(name: name, directory: directory, origin: .downloaded(commit: commit))
        } catch let error as HubError {
            if case .repositoryNotFound = error {
                tried.append("a download from \(downloader.endpoint): \(error)")
                throw ChunkingError.modelNotFound(name, tried: tried)
            }
            throw error
        } catch let error as HTTPError {
            tried.append("a download from \(downloader.endpoint), which failed: \(error.message)")
            throw ChunkingError.modelNotFound(name, tried: tried)
        }
    }
}
