import Foundation
import StreamingWeights
import Testing

/// Fixtures/tokenizer: a 2,560-line corpus and Hugging Face's ids for it (Fixtures/README.md).
struct TokenizerGolden: Sendable {
    struct Pair: Sendable {
        let a: String
        let b: String
        let ids: [Int32]
        let types: [Int32]
    }

    let lines: [String]
    /// Corpus ids by configuration.
    let corpusIDs: [String: [[Int32]]]
    let specialTexts: [String]
    /// `special_ids` and `truncated_ids`, by configuration.
    let specialIDs: [String: [String: [[Int32]]]]
    let pairs: [Pair]

    static let shared: Result<TokenizerGolden, any Error> = Result {
        let corpus = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/tokenizer/corpus.txt")))
        // Lines end at U+000A only: they hold U+000B, U+000C and U+0085, which other splitters take as breaks.
        var lines = Array(corpus).split(separator: 0x0a, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        if lines.last == "" { lines.removeLast() }
        let json = try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/tokenizer/golden.json")))
        let root = try JSONSerialization.jsonObject(with: json) as? [String: Any] ?? [:]
        func ids(_ value: Any?) -> [[Int32]] { (value as? [[Int]] ?? []).map { $0.map(Int32.init) } }
        var corpusIDs: [String: [[Int32]]] = [:]
        for (name, entry) in root["configurations"] as? [String: Any] ?? [:] {
            corpusIDs[name] = ids((entry as? [String: Any])?["ids"])
        }
        var specialIDs: [String: [String: [[Int32]]]] = [:]
        for key in ["special_ids", "truncated_ids"] {
            for (name, value) in root[key] as? [String: Any] ?? [:] {
                specialIDs[key, default: [:]][name] = ids(value)
            }
        }
        let pairs = (root["pairs"] as? [[String: Any]] ?? []).map { pair in
            Pair(
                a: pair["a"] as? String ?? "",
                b: pair["b"] as? String ?? "",
                ids: (pair["ids"] as? [Int] ?? []).map(Int32.init),
                types: (pair["token_type_ids"] as? [Int] ?? []).map(Int32.init)
            )
        }
        return TokenizerGolden(
            lines: lines,
            corpusIDs: corpusIDs,
            specialTexts: root["special_texts"] as? [String] ?? [],
            specialIDs: specialIDs,
            pairs: pairs
        )
    }

    func ids(_ configuration: String) -> [[Int32]] { corpusIDs[configuration] ?? [] }

    func special(_ key: String, _ configuration: String) -> [[Int32]] { specialIDs[key]?[configuration] ?? [] }
}

@Suite("The BERT tokenizer gives Hugging Face's ids")
struct TokenizerGoldenTests {
    static let configurations: [(name: String, basic: BasicTokenizer)] = [
        ("cased", BasicTokenizer(lowercase: false)),
        ("uncased_keep_accents", BasicTokenizer(lowercase: true, stripAccents: false)),
        ("no_chinese_split", BasicTokenizer(lowercase: true, splitChineseCharacters: false)),
    ]

    /// The tokenizer for a configuration: `uncased` is loaded from all-MiniLM-L6-v2's files (its
    /// tokenizer.json), the others built over bert-tiny's vocab.txt.
    static func tokenizer(_ name: String) throws -> BertTokenizer {
        if name == "uncased" { return try BertTokenizer(directory: miniLMDirectory) }
        let vocabulary = try Vocabulary(
            vocabTxt: Array(try Data(contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/bert-tiny/vocab.txt"))))
        )
        let basic = try #require(configurations.first { $0.name == name }).basic
        return try BertTokenizer(vocabulary: vocabulary, basic: basic, maximumLength: .max)
    }

    @Test(
        "Every corpus line, under each configuration",
        arguments: ["uncased", "cased", "uncased_keep_accents", "no_chinese_split"])
    func corpus(configuration: String) throws {
        let golden = try TokenizerGolden.shared.get()
        let tokenizer = try Self.tokenizer(configuration)
        let expected = golden.ids(configuration)
        #expect(golden.lines.count >= 2000 && expected.count == golden.lines.count)
        var mismatches = 0
        for (index, line) in golden.lines.enumerated() {
            let ids = [tokenizer.classifierID] + tokenizer.tokenize(line) + [tokenizer.separatorID]
            if ids != expected[index] {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record(
                        "line \(index + 1) \(line.debugDescription): \(tokenizer.tokens(ids)) != \(tokenizer.tokens(expected[index]))"
                    )
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(golden.lines.count) lines differ")
    }

    @Test(
        "Texts with line breaks, special tokens and over 512 tokens, with and without truncation",
        arguments: ["uncased", "cased", "uncased_keep_accents", "no_chinese_split"])
    func specialTexts(configuration: String) throws {
        let golden = try TokenizerGolden.shared.get()
        let tokenizer = try Self.tokenizer(configuration)
        let texts = golden.specialTexts
        let untruncated = golden.special("special_ids", configuration)
        let truncated = golden.special("truncated_ids", configuration)
        #expect(texts.count == untruncated.count && texts.count == truncated.count && !texts.isEmpty)
        for (index, text) in texts.enumerated() {
            let ids = [tokenizer.classifierID] + tokenizer.tokenize(text) + [tokenizer.separatorID]
            #expect(ids == untruncated[index], "special text \(index) \(text.prefix(40).debugDescription)")
            let limited = try BertTokenizer(
                vocabulary: tokenizer.vocabulary, basic: tokenizer.basic, maximumLength: 512)
            #expect(try limited.encode(text).ids == truncated[index], "truncated special text \(index)")
        }
    }

    @Test("Sentence pairs get [SEP] between them and token type 1 for the second")
    func pairs() throws {
        let tokenizer = try Self.tokenizer("uncased")
        for pair in try TokenizerGolden.shared.get().pairs {
            let encoding = try tokenizer.encode(pair.a, pair: pair.b)
            #expect(encoding.ids == pair.ids, "\(pair.a) / \(pair.b)")
            #expect(encoding.tokenTypeIDs == pair.types)
        }
    }
}
