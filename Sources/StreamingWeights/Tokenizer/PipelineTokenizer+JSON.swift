import Foundation

extension PipelineTokenizer {
    /// The components this reads from a `tokenizer.json`, by stage, for messages.
    public static let supportedComponents: [String: [String]] = [
        "normalizer": [
            "BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "Precompiled", "Prepend", "Replace",
            "Sequence", "Strip", "StripAccents",
        ],
        "pre_tokenizer": [
            "BertPreTokenizer", "ByteLevel", "CharDelimiterSplit", "Digits", "Metaspace", "Punctuation", "Sequence",
            "Split", "Whitespace", "WhitespaceSplit",
        ],
        "model": ["BPE", "Unigram", "WordPiece"],
        "post_processor": ["BertProcessing", "ByteLevel", "RobertaProcessing", "Sequence", "TemplateProcessing"],
    ]

    /// Loads `tokenizer.json` (and `tokenizer_config.json`'s `model_max_length` and `pad_token`)
    /// from the files' contents, by name.
    ///
    /// - Parameter maximumPositions: the model's position count; encodings are cut to the
    ///   smaller of it and `model_max_length`.
    /// - Throws: ``TokenizerError`` naming the file and the component or value that is wrong:
    ///   an unknown component type, a Unigram model without an unknown piece, merges naming
    ///   tokens the vocabulary lacks, special tokens missing from it.
    public init(files: [String: [UInt8]], location: String, maximumPositions: Int? = nil) throws {
        let path = (location as NSString).appendingPathComponent("tokenizer.json")
        guard let data = files["tokenizer.json"] else { throw TokenizerError.missingVocabulary(path: path) }
        try self.init(
            json: try TokenizerJSONReader(path: path).object(data), files: files, location: location,
            maximumPositions: maximumPositions)
    }

    /// The tokenizer of `json`, the parsed `tokenizer.json` of `files`.
    init(json: JSONObject, files: [String: [UInt8]], location: String, maximumPositions: Int?) throws {
        let reader = TokenizerJSONReader(path: (location as NSString).appendingPathComponent("tokenizer.json"))
        let config = try files["tokenizer_config.json"].map {
            try TokenizerJSONReader(path: (location as NSString).appendingPathComponent("tokenizer_config.json"))
                .object($0)
        }

        let model = try reader.model(json["model"])
        var addedTokens: [AddedToken] = []
        for (index, value) in (json["added_tokens"]?.arrayValue ?? []).enumerated() {
            guard let token = value.objectValue, let content = token["content"]?.stringValue,
                let id = token["id"]?.integerValue, let id32 = Int32(exactly: id), id32 >= 0
            else { throw reader.invalid("added_tokens[\(index)] is not an object with a content and an id") }
            addedTokens.append(
                AddedToken(
                    content: content, id: id32, singleWord: reader.flag(token["single_word"]),
                    leftStrip: reader.flag(token["lstrip"]), rightStrip: reader.flag(token["rstrip"]),
                    normalized: reader.flag(token["normalized"], default: !reader.flag(token["special"]))))
        }
        let normalizer = try json["normalizer"].flatMap { try reader.normalizer($0, at: "normalizer") }
        let preTokenizer = try json["pre_tokenizer"].flatMap { try reader.preTokenizer($0, at: "pre_tokenizer") }
        let postProcessor =
            try json["post_processor"].map { try reader.postProcessor($0, at: "post_processor") } ?? .none

        var maximumLength = maximumPositions ?? 512
        if case .integer(let value)? = config?["model_max_length"] {
            maximumLength = min(maximumLength, Int(clamping: value))
        }
        let padToken =
            config?["pad_token"].flatMap { $0.stringValue ?? $0.objectValue?["content"]?.stringValue }
            ?? json["padding"]?.objectValue?["pad_token"]?.stringValue
        let paddingID = padToken.flatMap { Self.id(of: $0, addedTokens: addedTokens, model: model) } ?? 0
        self.init(
            normalizer: normalizer, preTokenizer: preTokenizer, model: model, postProcessor: postProcessor,
            addedTokens: addedTokens, maximumLength: maximumLength, paddingID: paddingID)
    }

    /// Whether this is BERT's own pipeline, which ``BertTokenizer`` runs faster.
    var isBertPipeline: Bool {
        guard case .wordPiece = model, case .bert? = normalizer, case .bert? = preTokenizer else { return false }
        switch postProcessor {
        case .bert: return true
        case .template(let single, let pair):
            guard case .special(let classifier, 0)? = single.first, classifier.count == 1,
                case .special(let separator, 0)? = single.last, separator.count == 1
            else { return false }
            return single == [
                .special(ids: classifier, typeID: 0), .sequence(second: false, typeID: 0),
                .special(ids: separator, typeID: 0),
            ]
                && pair == single + [.sequence(second: true, typeID: 1), .special(ids: separator, typeID: 1)]
        default: return false
        }
    }
}

/// Reads the parts of one `tokenizer.json`, naming the file and the place of what is wrong.
struct TokenizerJSONReader {
    let path: String

    func invalid(_ problem: String) -> TokenizerError {
        .invalidConfiguration(path: path, problem: problem)
    }

    func object(_ data: [UInt8]) throws -> JSONObject {
        do {
            let value = try data.withUnsafeBytes { try JSONParser.parse($0) }
            guard let object = value.objectValue else { throw invalid("it is \(value.kindDescription), not an object") }
            return object
        } catch let error as JSONParseError {
            throw invalid(error.description)
        }
    }

    func flag(_ value: JSONValue?, default defaultValue: Bool = false) -> Bool {
        if case .bool(let flag)? = value { flag } else { defaultValue }
    }

    private func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .integer(let number)?: Double(number)
        case .double(let number)?: number
        default: nil
        }
    }

    /// The component's `type`, or an error naming `stage` and what it holds instead.
    private func type(of value: JSONValue, at place: String, stage: String) throws -> (String, JSONObject) {
        guard let object = value.objectValue, let type = object["type"]?.stringValue else {
            throw invalid("\(place) is not an object with a type")
        }
        guard PipelineTokenizer.supportedComponents[stage]?.contains(type) ?? false else {
            throw TokenizerError.unsupportedComponent(
                path: path, place: place, type: type, supported: PipelineTokenizer.supportedComponents[stage] ?? [])
        }
        return (type, object)
    }

    private func scalar(_ value: JSONValue?, at place: String) throws -> Unicode.Scalar {
        guard let text = value?.stringValue, text.unicodeScalars.count == 1, let scalar = text.unicodeScalars.first
        else { throw invalid("\(place) is not one character") }
        return scalar
    }

    private func pattern(_ value: JSONValue?, at place: String) throws -> TextPattern {
        if let literal = value?.objectValue?["String"]?.stringValue { return TextPattern(literal: literal) }
        if let regex = value?.objectValue?["Regex"]?.stringValue {
            do {
                return try TextPattern(regex: regex)
            } catch {
                throw invalid("\(place): the regular expression '\(regex)' does not parse: \(error)")
            }
        }
        throw invalid("\(place) is not {\"String\": ...} or {\"Regex\": ...}")
    }

    private func behavior(_ value: JSONValue?, at place: String) throws -> PreTokenizer.SplitBehavior {
        let names: [String: PreTokenizer.SplitBehavior] = [
            "Removed": .removed, "Isolated": .isolated, "MergedWithPrevious": .mergedWithPrevious,
            "MergedWithNext": .mergedWithNext, "Contiguous": .contiguous,
        ]
        guard let name = value?.stringValue, let behavior = names[name] else {
            throw invalid("\(place) is not one of \(names.keys.sorted().joined(separator: ", "))")
        }
        return behavior
    }

    func normalizer(_ value: JSONValue, at place: String) throws -> TextNormalizer? {
        if case .null = value { return nil }
        let (type, object) = try type(of: value, at: place, stage: "normalizer")
        switch type {
        case "Sequence":
            let stages = object["normalizers"]?.arrayValue ?? []
            return .sequence(
                try stages.enumerated().compactMap { try normalizer($1, at: "\(place).normalizers[\($0)]") })
        case "BertNormalizer":
            let strip: Bool? = if case .bool(let flag)? = object["strip_accents"] { flag } else { nil }
            return .bert(
                cleanText: flag(object["clean_text"], default: true),
                handleChineseCharacters: flag(object["handle_chinese_chars"], default: true), stripAccents: strip,
                lowercase: flag(object["lowercase"], default: true))
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "Strip":
            return .strip(
                left: flag(object["strip_left"], default: true), right: flag(object["strip_right"], default: true))
        case "Prepend":
            guard let prefix = object["prepend"]?.stringValue else { throw invalid("\(place) has no prepend string") }
            return .prepend(Array(prefix.unicodeScalars))
        case "Replace":
            guard let content = object["content"]?.stringValue else { throw invalid("\(place) has no content string") }
            return .replace(try pattern(object["pattern"], at: "\(place).pattern"), with: Array(content.unicodeScalars))
        default:  // Precompiled
            guard let encoded = object["precompiled_charsmap"]?.stringValue,
                let blob = Data(base64Encoded: encoded)
            else { throw invalid("\(place).precompiled_charsmap is not base64") }
            do {
                return .precompiled(try PrecompiledCharsmap(blob: Array(blob)))
            } catch {
                throw invalid("\(place): \(error)")
            }
        }
    }

    func preTokenizer(_ value: JSONValue, at place: String) throws -> PreTokenizer? {
        if case .null = value { return nil }
        let (type, object) = try type(of: value, at: place, stage: "pre_tokenizer")
        switch type {
        case "Sequence":
            let stages = object["pretokenizers"]?.arrayValue ?? []
            return .sequence(
                try stages.enumerated().compactMap { try preTokenizer($1, at: "\(place).pretokenizers[\($0)]") })
        case "BertPreTokenizer": return .bert
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Metaspace":
            let replacement = try scalar(object["replacement"], at: "\(place).replacement")
            var scheme = PreTokenizer.PrependScheme.always
            if let name = object["prepend_scheme"]?.stringValue {
                guard let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                    throw invalid("\(place).prepend_scheme '\(name)' is not always, first or never")
                }
                scheme = parsed
            } else if case .bool(false)? = object["add_prefix_space"] {
                scheme = .never
            }
            return .metaspace(
                replacement: replacement, prependScheme: scheme, split: flag(object["split"], default: true))
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: flag(object["add_prefix_space"], default: true),
                useRegex: flag(object["use_regex"], default: true))
        case "Split":
            return .split(
                try pattern(object["pattern"], at: "\(place).pattern"),
                try behavior(object["behavior"], at: "\(place).behavior"), invert: flag(object["invert"]))
        case "Punctuation":
            return .punctuation(
                object["behavior"] == nil ? .isolated : try behavior(object["behavior"], at: "\(place).behavior"))
        case "Digits":
            return .digits(individually: flag(object["individual_digits"]))
        default:  // CharDelimiterSplit
            return .characterDelimiter(try scalar(object["delimiter"], at: "\(place).delimiter"))
        }
    }

    func model(_ value: JSONValue?) throws -> PipelineTokenizer.Model {
        guard let value else { throw invalid("there is no model") }
        let (type, object) = try type(of: value, at: "model", stage: "model")
        switch type {
        case "WordPiece":
            let vocabulary = try vocabularyByID(object["vocab"])
            let unknown = object["unk_token"]?.stringValue ?? "[UNK]"
            guard let unknownID = vocabulary.id(of: unknown) else {
                throw invalid("the WordPiece vocabulary has no unknown token '\(unknown)'")
            }
            let length = object["max_input_chars_per_word"]?.integerValue.map { Int(clamping: $0) } ?? 100
            return .wordPiece(
                WordPieceTokenizer(
                    vocabulary: vocabulary, unknownID: unknownID, maximumWordLength: length,
                    continuationPrefix: object["continuing_subword_prefix"]?.stringValue ?? "##"))
        case "Unigram":
            guard let entries = object["vocab"]?.arrayValue else { throw invalid("model.vocab is not a list") }
            var pieces: [String] = []
            var scores: [Double] = []
            for (index, entry) in entries.enumerated() {
                guard let pair = entry.arrayValue, pair.count == 2, let piece = pair[0].stringValue,
                    let score = number(pair[1])
                else { throw invalid("model.vocab[\(index)] is not [piece, score]") }
                pieces.append(piece)
                scores.append(score)
            }
            guard let unknown = object["unk_id"]?.integerValue else {
                throw TokenizerError.invalidConfiguration(
                    path: path,
                    problem:
                        "the Unigram model has no unk_id: a text with a character no piece covers would have no token")
            }
            guard unknown >= 0, unknown < pieces.count else {
                throw invalid("the Unigram model's unk_id \(unknown) is not a piece's id (0..<\(pieces.count))")
            }
            return .unigram(
                UnigramModel(
                    vocabulary: try Vocabulary(tokens: pieces, source: path), scores: scores, unknownID: Int32(unknown),
                    byteFallback: flag(object["byte_fallback"])))
        default:  // BPE
            if let dropout = number(object["dropout"]), dropout > 0 {
                throw invalid("the BPE model's dropout \(dropout) makes tokens random; only none or 0 is supported")
            }
            let vocabulary = try vocabularyByID(object["vocab"])
            var merges: [(String, String)] = []
            for (index, merge) in (object["merges"]?.arrayValue ?? []).enumerated() {
                if let pair = merge.arrayValue, pair.count == 2, let left = pair[0].stringValue,
                    let right = pair[1].stringValue
                {
                    merges.append((left, right))
                } else if let text = merge.stringValue, let space = text.firstIndex(of: " ") {
                    merges.append((String(text[..<space]), String(text[text.index(after: space)...])))
                } else {
                    throw invalid("model.merges[\(index)] is not \"a b\" or [a, b]")
                }
            }
            var unknownID: Int32?
            if let unknown = object["unk_token"]?.stringValue {
                guard let id = vocabulary.id(of: unknown) else {
                    throw invalid("the BPE vocabulary has no unknown token '\(unknown)'")
                }
                unknownID = id
            }
            do {
                return .bytePair(
                    try BytePairModel(
                        vocabulary: vocabulary, merges: merges, unknownID: unknownID,
                        continuingSubwordPrefix: object["continuing_subword_prefix"]?.stringValue,
                        endOfWordSuffix: object["end_of_word_suffix"]?.stringValue,
                        fusesUnknown: flag(object["fuse_unk"]),
                        byteFallback: flag(object["byte_fallback"]), ignoresMerges: flag(object["ignore_merges"])))
            } catch .unknownToken(let token, let index) {
                throw invalid("model.merges[\(index)] names '\(token)', which is not in the vocabulary")
            }
        }
    }

    /// A `{"token": id}` vocabulary whose ids are 0..<count, each once.
    func vocabularyByID(_ value: JSONValue?) throws -> Vocabulary {
        guard let entries = value?.objectValue else { throw invalid("model.vocab is not an object") }
        var tokens = [String?](repeating: nil, count: entries.members.count)
        for (token, value) in entries.members {
            guard let id = value.integerValue, id >= 0, Int(id) < tokens.count, tokens[Int(id)] == nil else {
                throw invalid("vocabulary ids are not 0..<\(tokens.count), each once (see '\(token)')")
            }
            tokens[Int(id)] = token
        }
        return try Vocabulary(tokens: tokens.compactMap { $0 }, source: path)
    }

    func postProcessor(_ value: JSONValue, at place: String) throws -> PostProcessor {
        if case .null = value { return .none }
        let (type, object) = try type(of: value, at: place, stage: "post_processor")
        func special(_ key: String) throws -> Int32 {
            guard let pair = object[key]?.arrayValue, pair.count == 2, let id = pair[1].integerValue,
                let id32 = Int32(exactly: id)
            else { throw invalid("\(place).\(key) is not [token, id]") }
            return id32
        }
        switch type {
        case "BertProcessing": return .bert(classifier: try special("cls"), separator: try special("sep"))
        case "RobertaProcessing": return .roberta(classifier: try special("cls"), separator: try special("sep"))
        case "ByteLevel": return .none
        case "Sequence":
            let stages = object["processors"]?.arrayValue ?? []
            return .sequence(try stages.enumerated().map { try postProcessor($1, at: "\(place).processors[\($0)]") })
        default:  // TemplateProcessing
            var specials: [String: [Int32]] = [:]
            for (name, entry) in object["special_tokens"]?.objectValue?.members ?? [] {
                guard
                    let ids = entry.objectValue?["ids"]?.arrayValue?.compactMap({
                        $0.integerValue.flatMap(Int32.init(exactly:))
                    })
                else { throw invalid("\(place).special_tokens.\(name) has no ids") }
                specials[name] = ids
            }
            func template(_ key: String) throws -> [PostProcessor.TemplatePiece] {
                guard let pieces = object[key]?.arrayValue else { throw invalid("\(place).\(key) is not a list") }
                return try pieces.enumerated().map { index, piece in
                    let location = "\(place).\(key)[\(index)]"
                    if let special = piece.objectValue?["SpecialToken"]?.objectValue,
                        let name = special["id"]?.stringValue
                    {
                        guard let ids = specials[name] else {
                            throw invalid("\(location) names the special token '\(name)', which special_tokens lacks")
                        }
                        return .special(ids: ids, typeID: Int32(clamping: special["type_id"]?.integerValue ?? 0))
                    }
                    if let sequence = piece.objectValue?["Sequence"]?.objectValue,
                        let name = sequence["id"]?.stringValue,
                        name == "A" || name == "B"
                    {
                        return .sequence(
                            second: name == "B", typeID: Int32(clamping: sequence["type_id"]?.integerValue ?? 0))
                    }
                    throw invalid("\(location) is not a SpecialToken or a Sequence A or B")
                }
            }
            return .template(single: try template("single"), pair: try template("pair"))
        }
    }
}
