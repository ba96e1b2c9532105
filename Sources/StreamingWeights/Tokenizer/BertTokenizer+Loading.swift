import Foundation

extension BertTokenizer {
    /// Loads the tokenizer of a model (or chunk) directory.
    ///
    /// Reads `vocab.txt`, then `tokenizer_config.json` (`do_lower_case`, `strip_accents`,
    /// `tokenize_chinese_chars`, `model_max_length`, the special tokens) and `tokenizer.json`
    /// (its `BertNormalizer` settings and `WordPiece` vocabulary) when they exist.
    /// - Parameter maximumPositions: the model's position count; encodings are truncated to the
    ///   smaller of it and `model_max_length`.
    /// - Throws: ``TokenizerError`` naming the file and what is wrong with it.
    public init(directory: String, maximumPositions: Int? = nil) throws {
        var files: [String: [UInt8]] = [:]
        for name in TokenizerLoader.fileNames {
            let path = (directory as NSString).appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: path) { files[name] = Array(data) }
        }
        try self.init(files: files, location: directory, maximumPositions: maximumPositions)
    }

    /// Loads a tokenizer from the contents of its files (``TokenizerLoader/fileNames``), by name: those of a
    /// streamed chunk set, already verified, with no temporary directory.
    ///
    /// - Parameter location: where the files came from, for messages (`location/vocab.txt`).
    /// - Throws: ``TokenizerError`` naming the file and what is wrong with it.
    public init(files: [String: [UInt8]], location: String, maximumPositions: Int? = nil) throws {
        try self.init(files: files, location: location, maximumPositions: maximumPositions, parsed: nil)
    }

    /// The same, with `tokenizer.json` already parsed and its WordPiece vocabulary built (by
    /// ``PipelineTokenizer``, which ``TokenizerLoader`` reads first), so neither is done twice.
    init(
        files: [String: [UInt8]], location: String, maximumPositions: Int?,
        parsed: (json: JSONObject, vocabulary: Vocabulary)?
    ) throws {
        func path(_ name: String) -> String { (location as NSString).appendingPathComponent(name) }
        let config = try Self.jsonObject(files["tokenizer_config.json"], path: path("tokenizer_config.json"))
        let fast = try parsed?.json ?? Self.jsonObject(files["tokenizer.json"], path: path("tokenizer.json"))

        var lowercase = config?["do_lower_case"].flatMap(Self.bool) ?? true
        var stripAccents = config?["strip_accents"].flatMap(Self.bool)
        var splitChinese = config?["tokenize_chinese_chars"].flatMap(Self.bool) ?? true
        var specials = SpecialTokens()
        for (key, keyPath) in [
            ("unk_token", \SpecialTokens.unknown), ("cls_token", \.classifier), ("sep_token", \.separator),
            ("pad_token", \.padding), ("mask_token", \.mask),
        ] {
            if let token = config?[key].flatMap(Self.tokenText) { specials[keyPath: keyPath] = token }
        }
        var maximumWordLength = 100
        var vocabulary: Vocabulary?

        if let fast {
            let fastPath = path("tokenizer.json")
            if let normalizer = fast["normalizer"]?.objectValue {
                guard normalizer["type"]?.stringValue == "BertNormalizer" else {
                    throw TokenizerError.invalidConfiguration(
                        path: fastPath,
                        problem: "normalizer type '\(normalizer["type"]?.stringValue ?? "?")' is not BertNormalizer"
                    )
                }
                lowercase = normalizer["lowercase"].flatMap(Self.bool) ?? lowercase
                stripAccents = normalizer["strip_accents"].flatMap(Self.bool)
                splitChinese = normalizer["handle_chinese_chars"].flatMap(Self.bool) ?? splitChinese
            }
            if let model = fast["model"]?.objectValue {
                guard model["type"]?.stringValue == "WordPiece" else {
                    throw TokenizerError.invalidConfiguration(
                        path: fastPath,
                        problem: "model type '\(model["type"]?.stringValue ?? "?")' is not WordPiece"
                    )
                }
                if let unknown = model["unk_token"]?.stringValue { specials.unknown = unknown }
                if let length = model["max_input_chars_per_word"]?.integerValue { maximumWordLength = Int(length) }
                if let built = parsed?.vocabulary {
                    vocabulary = built
                } else if model["vocab"]?.objectValue != nil {
                    vocabulary = try TokenizerJSONReader(path: fastPath).vocabularyByID(model["vocab"])
                }
            }
        }
        if vocabulary == nil {
            let vocabPath = path("vocab.txt")
            guard let data = files["vocab.txt"] else { throw TokenizerError.missingVocabulary(path: vocabPath) }
            vocabulary = try Vocabulary(vocabTxt: data, source: vocabPath)
        }
        var maximumLength = maximumPositions ?? 512
        switch config?["model_max_length"] {
        case .integer(let value)?: maximumLength = min(maximumLength, Int(clamping: value))
        default: break
        }
        guard let vocabulary else { throw TokenizerError.missingVocabulary(path: path("vocab.txt")) }
        try self.init(
            vocabulary: vocabulary,
            basic: BasicTokenizer(
                lowercase: lowercase, stripAccents: stripAccents, splitChineseCharacters: splitChinese),
            specialTokens: specials,
            maximumLength: maximumLength,
            maximumWordLength: maximumWordLength,
            source: path(files["tokenizer.json"] != nil ? "tokenizer.json" : "vocab.txt")
        )
    }

    /// The JSON object in `data` (the file at `path`), or `nil` when there is no such file.
    private static func jsonObject(_ data: [UInt8]?, path: String) throws -> JSONObject? {
        guard let data else { return nil }
        do {
            let value = try data.withUnsafeBytes { try JSONParser.parse($0) }
            guard let object = value.objectValue else {
                throw TokenizerError.invalidConfiguration(
                    path: path, problem: "it is \(value.kindDescription), not an object")
            }
            return object
        } catch let error as JSONParseError {
            throw TokenizerError.invalidConfiguration(path: path, problem: error.description)
        }
    }

    private static func bool(_ value: JSONValue) -> Bool? {
        if case .bool(let flag) = value { flag } else { nil }
    }

    /// A special token written as a string or as `{"content": "..."}`.
    private static func tokenText(_ value: JSONValue) -> String? {
        value.stringValue ?? value.objectValue?["content"]?.stringValue
    }
}
