import Foundation
import StreamingWeights
import Testing

@Suite("A tokenizer.json that cannot be run is refused, naming the file and what is wrong")
struct PipelineTokenizerErrorTests {
    /// A small Unigram tokenizer.json with `changes` applied to its top-level members.
    static func json(_ changes: [String: String]) -> [UInt8] {
        var members = [
            "normalizer": #"{"type": "NFKC"}"#,
            "pre_tokenizer":
                #"{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": true}"#,
            "model":
                #"{"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["\u2581a", -1.0], ["b", -2.0], ["\u2581", -3.0]]}"#,
            "post_processor": "null",
            "added_tokens": "[]",
        ]
        for (key, value) in changes { members[key] = value }
        let body = members.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return Array("{\(body)}".utf8)
    }

    static func load(_ changes: [String: String]) throws -> any TextTokenizer {
        try TokenizerLoader.load(files: ["tokenizer.json": json(changes)], location: "/models/x")
    }

    @Test("The small tokenizer the cases below change works")
    func baseline() throws {
        let tokenizer = try Self.load([:])
        #expect(try tokenizer.encode("a b ab").ids == [1, 3, 2, 1, 2])
        #expect(tokenizer is PipelineTokenizer)
    }

    @Test("An unknown normalizer, pre-tokenizer, model or post-processor type is named, with the supported ones")
    func unknownComponent() throws {
        for (key, value, place) in [
            (
                "normalizer", #"{"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Shout"}]}"#,
                "normalizer.normalizers[1]"
            ),
            ("pre_tokenizer", #"{"type": "UnicodeScripts"}"#, "pre_tokenizer"),
            ("model", #"{"type": "WordLevel", "vocab": {}}"#, "model"),
            ("post_processor", #"{"type": "Nonsense"}"#, "post_processor"),
        ] {
            #expect {
                _ = try Self.load([key: value])
            } throws: { error in
                guard case TokenizerError.unsupportedComponent(let path, let position, _, let supported) = error else {
                    return false
                }
                let message = (error as? TokenizerError)?.description ?? ""
                return path == "/models/x/tokenizer.json" && position == place && !supported.isEmpty
                    && message.contains("supported:")
            }
        }
    }

    @Test("A Unigram model without an unknown piece is refused")
    func unigramWithoutUnknown() throws {
        let error = #expect(throws: TokenizerError.self) {
            _ = try Self.load(["model": #"{"type": "Unigram", "vocab": [["a", -1.0]]}"#])
        }
        #expect(error?.description.contains("no unk_id") == true)
        #expect(error?.description.contains("/models/x/tokenizer.json") == true)
        let outside = #expect(throws: TokenizerError.self) {
            _ = try Self.load(["model": #"{"type": "Unigram", "unk_id": 5, "vocab": [["a", -1.0]]}"#])
        }
        #expect(outside?.description.contains("unk_id 5") == true)
    }

    @Test("BPE merges naming a token the vocabulary lacks are refused, naming the merge and the token")
    func mergesOfUnknownTokens() throws {
        let bpe = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": MERGES}"#
        for (merges, expected) in [
            (#"["a b", "a c"]"#, "model.merges[1] names 'c'"),
            (#"[["a", "b"], ["b", "a"]]"#, "model.merges[1] names 'ba'"),
        ] {
            let error = #expect(throws: TokenizerError.self) {
                _ = try Self.load([
                    "model": bpe.replacingOccurrences(of: "MERGES", with: merges), "pre_tokenizer": "null",
                    "normalizer": "null",
                ])
            }
            #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error")")
        }
    }

    @Test("Malformed parts are named: a bad charsmap, a template naming a missing special token, a bad added token")
    func malformedParts() throws {
        for (key, value, expected) in [
            ("normalizer", #"{"type": "Precompiled", "precompiled_charsmap": "AAAA"}"#, "precompiled charsmap"),
            (
                "post_processor",
                #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}], "pair": [], "special_tokens": {}}"#,
                "names the special token '<s>'"
            ),
            ("added_tokens", #"[{"content": "<x>"}]"#, "added_tokens[0]"),
            (
                "pre_tokenizer", #"{"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}"#,
                "does not parse"
            ),
        ] {
            let error = #expect(throws: TokenizerError.self) { _ = try Self.load([key: value]) }
            #expect(error?.description.contains(expected) == true, "\(key): \(error?.description ?? "no error")")
        }
    }
}
