import Foundation

/// One encoded text (or pair), before padding.
public struct TokenEncoding: Sendable, Equatable {
    /// The ids with the special tokens (`[CLS] a [SEP] b [SEP]` for BERT).
    public var ids: [Int32]
    /// The token type of each id: for BERT 0 for `[CLS] a [SEP]`, 1 for `b [SEP]`.
    public var tokenTypeIDs: [Int32]
    /// How many tokens truncation removed.
    public var truncatedCount: Int

    public init(ids: [Int32], tokenTypeIDs: [Int32], truncatedCount: Int) {
        self.ids = ids
        self.tokenTypeIDs = tokenTypeIDs
        self.truncatedCount = truncatedCount
    }
}

/// A tokenizer a model's text goes through: ``BertTokenizer`` (WordPiece, `vocab.txt` or a BERT
/// `tokenizer.json`) or ``PipelineTokenizer`` (any other `tokenizer.json`).
public protocol TextTokenizer: Sendable {
    /// The longest encoding, special tokens included (settable: a sentence-transformers model may
    /// take less than its tokenizer).
    var maximumLength: Int { get set }
    /// The id padding positions hold.
    var paddingID: Int32 { get }
    /// Encodes `text` (and `pair`) with the special tokens, truncated to ``maximumLength``.
    ///
    /// - Throws: ``TokenizerError/tooLong(tokens:maximum:)`` when `truncate` is false and the
    ///   encoding is longer than the maximum.
    func encode(_ text: String, pair: String?, truncate: Bool) throws -> TokenEncoding
    /// The tokens of `ids`, as strings.
    func tokens(_ ids: [Int32]) -> [String]
}

extension TextTokenizer {
    /// Encodes `text` (and `pair`), truncating when longer than ``maximumLength`` if `truncate`.
    public func encode(_ text: String, pair: String? = nil, truncating truncate: Bool = true) throws -> TokenEncoding {
        try encode(text, pair: pair, truncate: truncate)
    }

    /// Pads encodings to the longest, with an attention mask.
    ///
    /// - Throws: ``TokenizerError/emptyBatch`` for no encodings.
    public func encodeBatch(_ encodings: [TokenEncoding]) throws -> EncodedBatch {
        guard !encodings.isEmpty else { throw TokenizerError.emptyBatch }
        let length = encodings.map(\.ids.count).max() ?? 0
        var ids: [Int32] = []
        var types: [Int32] = []
        var mask: [Int32] = []
        for encoding in encodings {
            let padding = length - encoding.ids.count
            ids += encoding.ids + [Int32](repeating: paddingID, count: padding)
            types += encoding.tokenTypeIDs + [Int32](repeating: 0, count: padding)
            mask += [Int32](repeating: 1, count: encoding.ids.count) + [Int32](repeating: 0, count: padding)
        }
        return EncodedBatch(
            batchSize: encodings.count, sequenceLength: length, inputIDs: ids, tokenTypeIDs: types, attentionMask: mask)
    }
}

/// Loads the tokenizer a model directory or chunk set describes.
public enum TokenizerLoader {
    /// The files a tokenizer is read from, by name.
    public static let fileNames = ["vocab.txt", "tokenizer_config.json", "tokenizer.json"]

    /// The tokenizer of a model (or chunk) directory.
    ///
    /// - Throws: ``TokenizerError`` naming the file and what is wrong with it.
    public static func load(directory: String, maximumPositions: Int? = nil) throws -> any TextTokenizer {
        var files: [String: [UInt8]] = [:]
        for name in fileNames {
            let path = (directory as NSString).appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: path) { files[name] = Array(data) }
        }
        return try load(files: files, location: directory, maximumPositions: maximumPositions)
    }

    /// The tokenizer of these files' contents (``fileNames``, by name).
    ///
    /// A `tokenizer.json` that spells BERT's own pipeline (BERT normaliser and pre-tokenizer,
    /// WordPiece, `[CLS] A [SEP]`) loads as ``BertTokenizer``, which is faster; any other as
    /// ``PipelineTokenizer``; no `tokenizer.json` means `vocab.txt` and BERT.
    /// - Parameter location: where the files came from, for messages.
    /// - Throws: ``TokenizerError`` naming the file and what is wrong with it.
    public static func load(
        files: [String: [UInt8]], location: String, maximumPositions: Int? = nil
    ) throws -> any TextTokenizer {
        guard let data = files["tokenizer.json"] else {
            return try BertTokenizer(files: files, location: location, maximumPositions: maximumPositions)
        }
        // Parsed once, and the vocabulary built once, for both tokenizers.
        let json = try TokenizerJSONReader(path: (location as NSString).appendingPathComponent("tokenizer.json"))
            .object(data)
        let pipeline = try PipelineTokenizer(
            json: json, files: files, location: location, maximumPositions: maximumPositions)
        if pipeline.isBertPipeline {
            return try BertTokenizer(
                files: files, location: location, maximumPositions: maximumPositions,
                parsed: (json, pipeline.model.vocabulary))
        }
        return pipeline
    }
}
