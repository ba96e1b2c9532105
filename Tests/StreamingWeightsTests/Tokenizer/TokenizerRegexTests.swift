import Foundation
import StreamingWeights
import Testing

@Suite("tokenizer.json regular expressions")
struct TokenizerRegexTests {
    /// Fixtures/tokenizer/pattern-golden.json (Fixtures/generators/make_pattern_goldens.py).
    struct Golden {
        let texts: [[Unicode.Scalar]]
        let patterns: [(source: String, matches: [[[Int]]])]

        init() throws {
            let data = try Data(
                contentsOf: URL(fileURLWithPath: Repository.path("Fixtures/tokenizer/pattern-golden.json")))
            let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            texts = try #require(root["texts"] as? [String]).map { Array($0.unicodeScalars) }
            patterns = try #require(root["patterns"] as? [[String: Any]]).map { entry in
                (try #require(entry["pattern"] as? String), try #require(entry["matches"] as? [[[Int]]]))
            }
        }
    }

    /// Whether `text` holds a character assigned after Unicode 15.1, which the standard library's
    /// tables know and `tokenizers`' Oniguruma does not (a category differs: an unassigned
    /// character is no letter).
    static func holdsNewCharacters(_ text: [Unicode.Scalar]) -> Bool {
        text.contains { scalar in
            scalar.properties.age.map { $0.major > 15 || ($0.major == 15 && $0.minor > 1) } ?? false
        }
    }

    @Test(
        "Each pattern finds the matches Hugging Face tokenizers (Oniguruma) finds in every golden text (but those with characters newer than Unicode 15.1)"
    )
    func goldens() throws {
        let golden = try Golden()
        #expect(golden.patterns.count >= 45 && golden.texts.count >= 300)
        let compared = golden.texts.filter { !Self.holdsNewCharacters($0) }.count
        #expect(compared >= golden.texts.count - 20, "\(golden.texts.count - compared) texts left out")
        for (source, expected) in golden.patterns {
            let pattern = try TextPattern(regex: source)
            #expect(expected.count == golden.texts.count)
            var failures = 0
            for (text, ranges) in zip(golden.texts, expected) where !Self.holdsNewCharacters(text) {
                let found = pattern.matches(in: text).map { [$0.lowerBound, $0.upperBound] }
                guard found != ranges else { continue }
                failures += 1
                if failures <= 3 {
                    Issue.record(
                        "\(source) in \(String(String.UnicodeScalarView(text)).debugDescription): \(found), not \(ranges)"
                    )
                }
            }
        }
    }

    @Test(
        "Patterns that take a backtracking engine exponential time finish, with the right matches",
        .timeLimit(.minutes(1)))
    func noCatastrophicBacktracking() throws {
        let run = Array(String(repeating: "a", count: 5000).unicodeScalars)
        for source in ["(a+)+b", "(a|a)*c", "(a*)*b", "(?:a|aa)+$x", "((a+)+)+(?=b)", "(\\w+\\s?)+z"] {
            #expect(try TextPattern(regex: source).matches(in: run).isEmpty, "\(source)")
        }
        #expect(try TextPattern(regex: "(a+)+b").matches(in: run + ["b"]) == [0..<5001])
        #expect(try TextPattern(regex: "(a|aa)+").matches(in: run) == [0..<5000])
    }

    @Test("A construct the matcher does not implement, or a malformed pattern, is refused naming it")
    func refusals() {
        let cases: [(String, String)] = [
            ("(?<=a)b", "look-behind"), ("(?<!a)b", "look-behind"), ("(a)\\1", "escape '\\1'"),
            ("(?>a)", "atomic groups"), ("a*+", "possessive"), ("a++", "possessive"), ("[[:alpha:]]", "POSIX"),
            ("[a&&b]", "intersection"), ("[a[b]]", "nested classes"), ("\\p{Han}", "property 'Han'"),
            ("(?i)\u{DF}", "more than one character"), ("(?i:[\u{130}])", "more than one character"),
            ("(unclosed", "unclosed group"), ("a{1001}", "above 1000"), ("*a", "nothing to repeat"),
            ("a|?", "nothing to repeat"), ("[z-a]", "out of order"), ("(?x)a", "'(?x'"), ("a)", "unmatched ')'"),
            ("\\", "trailing backslash"), ("[abc", "unclosed '['"), ("\\x{110000}", "not a Unicode scalar"),
            ("\\u12", "4 hex digits"), ("\\p{L", "unclosed"), ("\\k<name>", "escape '\\k'"), ("^*", "anchor"),
        ]
        for (source, expected) in cases {
            let error = #expect(throws: (any Error).self, "\(source)") { _ = try TextPattern(regex: source) }
            #expect("\(error.map { "\($0)" } ?? "")".contains(expected), "\(source): \(String(describing: error))")
        }
    }

    @Test("A brace that starts no interval is a literal, and an interval's bounds are read as Oniguruma reads them")
    func intervals() throws {
        let text = Array("x{ a{,2} aaa {1}".unicodeScalars)
        #expect(try TextPattern(regex: "x{").matches(in: text) == [0..<2])
        #expect(try TextPattern(regex: "a{,2}").matches(in: Array("aaa".unicodeScalars)) == [0..<2, 2..<3])
        #expect(try TextPattern(regex: "a{2,}").matches(in: Array("a aaa".unicodeScalars)) == [2..<5])
        #expect(try TextPattern(regex: "\\{1}").matches(in: text) == [13..<16])
        #expect(try TextPattern(regex: "a{2}{3}").matches(in: Array("aaaaaaa".unicodeScalars)) == [0..<6])
        #expect(try TextPattern(regex: "a{1,2}?").matches(in: Array("aaa".unicodeScalars)) == [0..<1, 1..<2, 2..<3])
    }
}
