/// Whole-buffer and file-to-file gzip, built on ``GzipCompressor`` and ``GzipDecompressor``.
public enum Gzip {
    /// `bytes` compressed into one gzip member.
    public static func compress(_ bytes: some Sequence<UInt8>, level: Int32 = 6) throws -> [UInt8] {
        let input = Array(bytes)
        let compressor = try GzipCompressor(level: level)
        var output: [UInt8] = []
        try input.withUnsafeBytes { try compressor.compress($0) { output.append(contentsOf: $0) } }
        try compressor.finish { output.append(contentsOf: $0) }
        return output
    }

    /// The data of a complete gzip stream.
    ///
    /// - Throws: ``GzipError`` when the stream is corrupt, truncated or decompresses past `maximumOutputSize`.
    public static func decompress(_ bytes: some Sequence<UInt8>, maximumOutputSize: Int = .max) throws -> [UInt8] {
        let input = Array(bytes)
        let decompressor = try GzipDecompressor(maximumOutputSize: maximumOutputSize)
        var output: [UInt8] = []
        try input.withUnsafeBytes { try decompressor.decompress($0) { output.append(contentsOf: $0) } }
        try decompressor.finish()
        return output
    }

    /// Compresses the file at `source` into `destination`, block by block; `destination` appears
    /// only when complete.
    ///
    /// - Throws: ``FileError`` naming either path, or ``GzipError``.
    public static func compressFile(atPath source: String, toPath destination: String, level: Int32 = 6) throws {
        let compressor = try GzipCompressor(level: level)
        let writer = try FileWriter(path: destination)
        try FileReader.forEachBlock(ofFileAtPath: source) { block in
            try compressor.compress(block) { try writer.write($0) }
        }
        try compressor.finish { try writer.write($0) }
        try writer.commit()
    }

    /// Decompresses the gzip file at `source` into `destination`, block by block; `destination`
    /// appears only when the whole stream has been read and checked.
    ///
    /// - Throws: ``FileError`` naming either path, or ``GzipError``.
    public static func decompressFile(
        atPath source: String,
        toPath destination: String,
        maximumOutputSize: Int = .max
    ) throws {
        let decompressor = try GzipDecompressor(maximumOutputSize: maximumOutputSize)
        let writer = try FileWriter(path: destination)
        try FileReader.forEachBlock(ofFileAtPath: source) { block in
            try decompressor.decompress(block) { try writer.write($0) }
        }
        try decompressor.finish()
        try writer.commit()
    }
}
