import Foundation
import StreamingWeights
import Testing

/// Hugging Face `tokenizers`' ids for one `tokenizer.json` (Fixtures/README.md): every corpus
/// line, texts that cannot be lines or that exercise the added tokens, pairs, and truncation.
struct PipelineGolden: Sendable {
    struct Encoded: Sendable {
        let text: String
        let pair: String?
        let maximumLength: Int?
        let ids: [Int32]
        let types: [Int32]?
    }

    let corpus: [[Int32]]
    let texts: [Encoded]
    let pairs: [Encoded]
    let truncated: [Encoded]

    init(_ entry: [String: Any]) {
        func ids(_ value: Any?) -> [Int32] { (value as? [Int] ?? []).map(Int32.init) }
        func encoded(_ key: String, text: String, pair: String) -> [Encoded] {
            (entry[key] as? [[String: Any]] ?? []).map {
                Encoded(
                    text: $0[text] as? String ?? "", pair: $0[pair] as? String, maximumLength: $0["max_length"] as? Int,
                    ids: ids($0["ids"]), types: ($0["type_ids"] as? [Int])?.map(Int32.init))
            }
        }
        corpus = (entry["corpus"] as? [[Int]] ?? []).map { $0.map(Int32.init) }
        texts = encoded("texts", text: "text", pair: "pair")
        pairs = encoded("pairs", text: "a", pair: "b")
        truncated = encoded("truncated", text: "a", pair: "b")
    }

    /// The committed goldens of the fixture tokenizers, by name.
    static let fixtures: Result<[String: PipelineGolden], any Error> = Result {
        let data = try Data(
            contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/tokenizer/pipeline-golden.json")))
        let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        var goldens: [String: PipelineGolden] = [:]
        for (name, entry) in root["tokenizers"] as? [String: Any] ?? [:] {
            goldens[name] = PipelineGolden(entry as? [String: Any] ?? [:])
        }
        return goldens
    }
}

@Suite("tokenizer.json pipelines give Hugging Face tokenizers' ids")
struct PipelineTokenizerGoldenTests {
    /// The fixture tokenizers (committed) and the real vocabularies scripts/fetch-tokenizers builds.
    static let fixtures = ["unigram", "bpe", "wordpiece-mpnet"]
    static let real = ["xlm-r", "gpt2"]

    /// The tokenizer in `directory`, with no length limit.
    static func tokenizer(_ directory: String) throws -> PipelineTokenizer {
        let data = try Data(
            contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("tokenizer.json")))
        return try PipelineTokenizer(
            files: ["tokenizer.json": Array(data)], location: directory, maximumPositions: .max)
    }

    static func golden(_ name: String) throws -> (directory: String, golden: PipelineGolden) {
        if fixtures.contains(name) {
            return (
                Repository.path("Fixtures/tokenizer/\(name)"), try #require(try PipelineGolden.fixtures.get()[name])
            )
        }
        let directory = Repository.path("models/tokenizers/\(name)")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/golden.json"))
        return (directory, PipelineGolden(try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]))
    }

    @Test("Every corpus line and special text", arguments: fixtures + real)
    func corpus(name: String) throws {
        let (directory, golden) = try Self.golden(name)
        let tokenizer = try Self.tokenizer(directory)
        let lines = try TokenizerGolden.shared.get().lines
        #expect(golden.corpus.count == lines.count)
        var mismatches = 0
        for (index, line) in lines.enumerated() where index < golden.corpus.count {
            let ids = try tokenizer.encode(line).ids
            if ids != golden.corpus[index] {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record(
                        "line \(index) \(line.debugDescription): \(tokenizer.tokens(ids)) != \(tokenizer.tokens(golden.corpus[index]))"
                    )
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(lines.count) lines differ")
        for text in golden.texts {
            let ids = try tokenizer.encode(text.text).ids
            #expect(
                ids == text.ids,
                "\(text.text.prefix(80).debugDescription): \(tokenizer.tokens(ids)) != \(tokenizer.tokens(text.ids))")
        }
    }

    @Test("Pairs, with their token types, and longest-first truncation", arguments: fixtures + real)
    func pairsAndTruncation(name: String) throws {
        let (directory, golden) = try Self.golden(name)
        let tokenizer = try Self.tokenizer(directory)
        for pair in golden.pairs {
            let encoding = try tokenizer.encode(pair.text, pair: pair.pair)
            #expect(encoding.ids == pair.ids, "\(pair.text.prefix(40)) / \(pair.pair?.prefix(40) ?? "")")
            if let types = pair.types { #expect(encoding.tokenTypeIDs == types) }
        }
        for truncated in golden.truncated {
            var limited = tokenizer
            limited.maximumLength = try #require(truncated.maximumLength)
            let encoding = try limited.encode(truncated.text, pair: truncated.pair)
            #expect(
                encoding.ids == truncated.ids,
                "\(truncated.maximumLength ?? 0): \(truncated.text.prefix(40)) / \(truncated.pair?.prefix(40) ?? "")")
            if let types = truncated.types { #expect(encoding.tokenTypeIDs == types) }
        }
    }
}

@Suite("tokenizer.json patterns")
struct TextPatternTests {
    @Test("A run of one character matched by hand (' {2,}', 'x+', '\\\\++') replaces as Swift's Regex does")
    func runs() throws {
        var generator = SplitMix(seed: 19)
        let alphabet: [Unicode.Scalar] = [" ", " ", "x", "+", "a", "\u{2581}"]
        for (fast, regex) in [(" {2,}", "  +"), ("x+", "(?:x)+"), ("\\++", "(?:\\+)+"), ("a{3,}", "aaa+")] {
            let byHand = TextNormalizer.replace(try TextPattern(regex: fast), with: ["_"])
            let byRegex = TextNormalizer.replace(try TextPattern(regex: regex), with: ["_"])
            for _ in 0..<200 {
                let text = (0..<Int(generator.next() % 24)).map { _ in alphabet[Int(generator.next() % 6)] }
                #expect(
                    byHand.normalize(text) == byRegex.normalize(text),
                    "\(fast) on \(String(String.UnicodeScalarView(text)).debugDescription)")
            }
        }
    }
}
