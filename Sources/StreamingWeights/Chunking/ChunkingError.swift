/// What stops a model from being found, chunked or verified, with the name, file or URL involved.
public enum ChunkingError: Error, Hashable, CustomStringConvertible {
    /// The model name resolved nowhere; `tried` lists every place looked at, in order.
    case modelNotFound(String, tried: [String])
    /// `chunk_info.json` is unreadable or malformed.
    case invalidManifest(source: String, problem: String)
    /// A file's bytes do not hash to the manifest's SHA-256.
    case checksumMismatch(file: String, expected: String, actual: String)
    /// A file's size differs from the manifest's.
    case sizeMismatch(file: String, expected: Int, actual: Int)
    /// A file the manifest lists is absent.
    case missingFile(String, location: String)
    /// A chunk's tensors differ from what the manifest lists.
    case tensorListMismatch(chunk: String, problem: String)
    /// A `--dtype` this chunker cannot write.
    case unsupportedDType(String)
    /// Weights of `dtype` asked to be stored in `layout`, which holds float32 or float16 only;
    /// `model` when the dtype is the model's own (no `--dtype` given).
    case unsupportedLayoutDType(layout: String, dtype: String, model: String?)
    /// The model's weights lack what a BERT chunk set needs.
    case incompleteModel(String)
    /// The output holds files of something else (`holds` says what), which a chunk set would mix with.
    case outputNotEmpty(location: String, files: [String], holds: String)
    /// A file in a chunk set's storage that its manifest does not list.
    case unlistedFile(String, location: String)

    public var description: String {
        switch self {
        case .modelNotFound(let name, let tried):
            "cannot find model '\(name)'; tried:\n" + tried.map { "  - \($0)" }.joined(separator: "\n")
        case .invalidManifest(let source, let problem):
            "the manifest '\(source)' is invalid: \(problem)"
        case .checksumMismatch(let file, let expected, let actual):
            "'\(file)' fails its checksum: the manifest says \(expected), the file has \(actual)"
        case .sizeMismatch(let file, let expected, let actual):
            "'\(file)' is \(actual) bytes, but the manifest says \(expected)"
        case .missingFile(let file, let location):
            "'\(file)' is listed in the manifest but missing from \(location)"
        case .tensorListMismatch(let chunk, let problem):
            "chunk '\(chunk)' does not match the manifest: \(problem)"
        case .unsupportedDType(let dtype):
            "cannot store weights as '\(dtype)': use float32, float16 or bfloat16"
        case .unsupportedLayoutDType(let layout, let dtype, let model?):
            "\(model)'s weights are \(dtype), and the weight layout \(layout) holds float32 or float16 panels: add --dtype float32 or --dtype float16"
        case .unsupportedLayoutDType(let layout, let dtype, nil):
            "the weight layout \(layout) holds float32 or float16 panels, not \(dtype)"
        case .incompleteModel(let problem):
            "the model cannot be chunked: \(problem)"
        case .outputNotEmpty(let location, let files, let holds):
            "\(location) is not empty: it holds \(holds) (\(files.count) files: "
                + files.prefix(5).joined(separator: ", ") + (files.count > 5 ? ", ..." : "")
                + "); choose an empty output, or give --overwrite to replace them (files the new chunk set does not list are removed)"
        case .unlistedFile(let file, let location):
            "'\(file)' in \(location) is not listed in the manifest: a leftover of another chunk set? (re-run the chunker with --overwrite to remove it)"
        }
    }
}
