import Foundation
import StreamingWeights
import Testing

@Suite("Tokenizer configuration errors and long texts")
struct TokenizerErrorTests {
    @Test("A vocabulary with a duplicate token names it and both lines")
    func duplicateToken() {
        #expect(throws: TokenizerError.duplicateToken("hello", firstLine: 2, secondLine: 4, source: "vocab.txt")) {
            _ = try Vocabulary(vocabTxt: Array("[PAD]\nhello\nworld\nhello\n".utf8))
        }
    }

    @Test("With several tokens repeated, the first repeat in the list is named, with the line it repeats")
    func firstRepeatNamed() {
        #expect(throws: TokenizerError.duplicateToken("b", firstLine: 2, secondLine: 3, source: "vocab.txt")) {
            _ = try Vocabulary(vocabTxt: Array("a\nb\nb\na\nb\n".utf8))
        }
    }

    @Test("A tokenizer.json WordPiece vocabulary whose ids repeat is refused, naming the file and the token")
    func repeatedVocabularyID() {
        let json = #"{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "b": 1}}}"#
        #expect(
            throws: TokenizerError.invalidConfiguration(
                path: "x/tokenizer.json", problem: "vocabulary ids are not 0..<3, each once (see 'b')")
        ) {
            _ = try BertTokenizer(files: ["tokenizer.json": Array(json.utf8)], location: "x")
        }
    }

    @Test("id(of:) finds exactly the listed tokens: not their prefixes, extensions or the empty string")
    func exactLookup() throws {
        let vocabulary = try Vocabulary(tokens: ["ab", "abc", "b", "##b", "\u{00e9}", "e\u{0301}"])
        for (index, token) in vocabulary.tokens.enumerated() { #expect(vocabulary.id(of: token) == Int32(index)) }
        for absent in ["a", "abcd", "", "##", "c", "e"] { #expect(vocabulary.id(of: absent) == nil, "\(absent)") }
    }

    @Test("Canonically equivalent tokens are different tokens, as in the reference")
    func canonicalEquivalents() throws {
        let vocabulary = try Vocabulary(vocabTxt: Array(";\n\u{037E}\n".utf8))
        #expect(vocabulary.id(of: ";") == 0 && vocabulary.id(of: "\u{037E}") == 1)
    }

    @Test("CRLF line ends are accepted")
    func crlf() throws {
        let vocabulary = try Vocabulary(vocabTxt: Array("[PAD]\r\n[UNK]\r\n".utf8))
        #expect(vocabulary.tokens == ["[PAD]", "[UNK]"])
    }

    @Test("A vocabulary without a special token BERT needs is refused, naming it")
    func missingSpecialToken() throws {
        let vocabulary = try Vocabulary(vocabTxt: Array("[PAD]\n[UNK]\n[CLS]\nhello\n".utf8), source: "x/vocab.txt")
        #expect(throws: TokenizerError.missingSpecialToken("[SEP]", source: "the vocabulary")) {
            _ = try BertTokenizer(vocabulary: vocabulary)
        }
    }

    @Test("A missing vocab.txt names the path")
    func missingVocabulary() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: TokenizerError.missingVocabulary(path: directory.file("vocab.txt"))) {
            _ = try BertTokenizer(directory: directory.path)
        }
    }

    @Test("A malformed tokenizer_config.json names the file")
    func malformedConfig() throws {
        let directory = try TemporaryDirectory()
        try "{oops".write(toFile: directory.file("tokenizer_config.json"), atomically: true, encoding: .utf8)
        #expect {
            _ = try BertTokenizer(directory: directory.path)
        } throws: { error in
            "\(error)".hasPrefix("the tokenizer configuration '\(directory.file("tokenizer_config.json"))' is invalid")
        }
    }

    @Test("A text longer than the model is truncated and says so, or refused when truncation is off")
    func tooLong() throws {
        let tokenizer = try BertTokenizer(directory: Repository.path("Fixtures/bert-tiny"))
        let text = Array(repeating: "word", count: 600).joined(separator: " ")
        let encoding = try tokenizer.encode(text)
        #expect(
            encoding.ids.count == 512 && encoding.truncatedCount == 90 && encoding.ids.last == tokenizer.separatorID)
        #expect(throws: TokenizerError.tooLong(tokens: 602, maximum: 512)) {
            _ = try tokenizer.encode(text, truncate: false)
        }
    }

    @Test("An empty list of texts is refused; an empty text is [CLS] [SEP]")
    func empty() throws {
        let tokenizer = try BertTokenizer(directory: Repository.path("Fixtures/bert-tiny"))
        #expect(throws: TokenizerError.emptyBatch) { _ = try tokenizer.encodeBatch([]) }
        #expect(try tokenizer.encode("").ids == [101, 102])
    }

    @Test("A batch is padded to its longest text with a mask")
    func padding() throws {
        let tokenizer = try BertTokenizer(directory: Repository.path("Fixtures/bert-tiny"))
        let batch = try tokenizer.encodeBatch([tokenizer.encode("Hello, world!"), tokenizer.encode("hi")])
        #expect(batch.sequenceLength == 6)
        #expect(batch.inputIDs == [101, 7592, 1010, 2088, 999, 102, 101, 7632, 102, 0, 0, 0])
        #expect(batch.attentionMask == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
    }
}
