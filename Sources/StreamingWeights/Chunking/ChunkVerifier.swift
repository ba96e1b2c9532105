/// Re-reads a chunk set and checks it against its manifest: every file present, of the listed
/// size, SHA-256 and BLAKE3 (when listed); every chunk a valid safetensors file (after gunzip
/// when compressed) holding exactly the tensors, dtypes and shapes listed; no file beside them
/// that the manifest does not list (a leftover of another chunk set, which a client could
/// mistake for part of this one).
public struct ChunkVerifier: Sendable {
    public let storage: any StorageBackend

    public init(storage: any StorageBackend) {
        self.storage = storage
    }

    /// The problems found, each naming its file; empty when the chunk set is intact.
    ///
    /// - Throws: only when the manifest itself is missing or unreadable.
    public func verify() async throws -> [any Error] {
        guard try await storage.exists(ChunkManifest.fileName) else {
            throw ChunkingError.missingFile(ChunkManifest.fileName, location: storage.location)
        }
        let manifestBytes = try await storage.read(ChunkManifest.fileName).withUnsafeBytes { Array($0) }
        let manifest = try ChunkManifest(json: manifestBytes, source: ChunkManifest.fileName)
        var problems: [any Error] = []
        for name in manifest.chunks.keys.sorted() {
            guard let chunk = manifest.chunks[name] else { continue }
            do {
                let bytes = try await checkedBytes(
                    chunk.file, size: chunk.size, sha256: chunk.sha256, blake3: chunk.blake3)
                var content = bytes
                if chunk.file.hasSuffix(".gz") {
                    let decompressed = try bytes.withUnsafeBytes { raw in
                        try Gzip.decompress(raw)
                    }
                    content = ByteStorage(decompressed)
                }
                let file = try SafetensorsFile(storage: content, source: chunk.file)
                var found: [String: ChunkManifest.TensorEntry] = [:]
                for tensorName in file.tensorNames {
                    guard let tensor = file[tensorName] else { continue }
                    found[tensorName] = ChunkManifest.TensorEntry(
                        dtype: tensor.dtype.rawValue, shape: tensor.shape.dimensions)
                }
                if found != chunk.tensors {
                    let missing = Set(chunk.tensors.keys).subtracting(found.keys).sorted()
                    let extra = Set(found.keys).subtracting(chunk.tensors.keys).sorted()
                    let changed = Set(found.keys).intersection(chunk.tensors.keys).filter {
                        found[$0] != chunk.tensors[$0]
                    }.sorted()
                    var parts: [String] = []
                    if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
                    if !extra.isEmpty { parts.append("unlisted \(extra.joined(separator: ", "))") }
                    if !changed.isEmpty { parts.append("other dtype or shape for \(changed.joined(separator: ", "))") }
                    problems.append(
                        ChunkingError.tensorListMismatch(chunk: name, problem: parts.joined(separator: "; ")))
                }
            } catch {
                problems.append(error)
            }
        }
        for name in manifest.files.keys.sorted() {
            guard let entry = manifest.files[name] else { continue }
            do {
                _ = try await checkedBytes(name, size: entry.size, sha256: entry.sha256, blake3: entry.blake3)
            } catch {
                problems.append(error)
            }
        }
        let listed = Set([ChunkManifest.fileName] + manifest.chunks.values.map(\.file) + manifest.files.keys)
        for name in try await storage.list(prefix: "") where !listed.contains(name) {
            problems.append(ChunkingError.unlistedFile(name, location: storage.location))
        }
        return problems
    }

    /// `file`'s bytes, checked against every digest the manifest lists for it: a chunk set
    /// whose two digests disagree is damaged too.
    private func checkedBytes(_ file: String, size: Int, sha256: String, blake3: String?) async throws -> ByteStorage {
        guard let actualSize = try await storage.size(of: file) else {
            throw ChunkingError.missingFile(file, location: storage.location)
        }
        guard actualSize == size else {
            throw ChunkingError.sizeMismatch(file: file, expected: size, actual: actualSize)
        }
        let bytes = try await storage.read(file)
        let listed = [ContentDigest(.sha256, sha256)] + (blake3.map { [ContentDigest(.blake3, $0)] } ?? [])
        let digests = bytes.withUnsafeBytes { Digest.hashes(of: $0, with: listed.map(\.algorithm)) }
        for (expected, digest) in zip(listed, digests) {
            let actual = ContentDigest(expected.algorithm, digest.hexString)
            guard actual == expected else {
                throw ChunkingError.checksumMismatch(file: file, expected: "\(expected)", actual: "\(actual)")
            }
        }
        return bytes
    }
}
