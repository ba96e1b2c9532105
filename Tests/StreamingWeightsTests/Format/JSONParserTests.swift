import StreamingWeights
import Testing

@Suite("Strict JSON parsing")
struct JSONParserTests {
    @Test("Objects keep their key order and integers stay exact")
    func parsesDocuments() throws {
        let value = try JSONParser.parse(
            #"{"b": [1, -2, 9007199254740993], "a": {"x": null, "y": true}, "c": 1.5e3, "d": "\u00e9\ud83e\udd17\n"}"#)
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a", "c", "d"])
        #expect(object["b"] == .array([.integer(1), .integer(-2), .integer(9_007_199_254_740_993)]))
        #expect(object["c"] == .double(1500))
        #expect(object["d"] == .string("é🤗\n"))
    }

    @Test("Serialising and parsing again gives the same value")
    func roundTrip() throws {
        let text = #"{"z":[1,2.5,"a\"b\\c\u0001",false,null,{}],"y":{"k":[]},"é":"🤗"}"#
        let value = try JSONParser.parse(text)
        #expect(try JSONParser.parse(value.serialized) == value)
    }

    @Test(
        "Malformed JSON is rejected with the byte where it went wrong",
        arguments: [
            ("", "unexpected end of input"),
            ("{", "expected a string as object key"),
            (#"{"a" 1}"#, "expected ':'"),
            (#"{"a": 1,}"#, "expected a string as object key"),
            (#"[1, 2"#, "unexpected end of input in an array"),
            (#"{"a": 1} x"#, "unexpected data after the value"),
            ("\"tab\tinside\"", "unescaped control character"),
            (#""\x""#, "invalid escape"),
            (#""\ud800""#, "unpaired surrogate"),
            ("01", "leading zero"),
            ("1e999", "out of range"),
            ("tru", "unexpected end of input"),
            ("nul!", "expected 'null'"),
        ])
    func rejectsMalformed(text: String, reason: String) {
        #expect {
            _ = try JSONParser.parse(text)
        } throws: { error in
            (error as? JSONParseError)?.reason.contains(reason) == true
        }
    }

    @Test("A key written twice in one object is rejected, naming the key")
    func duplicateKeys() {
        #expect(throws: JSONParseError(offset: 9, reason: #"duplicate key "a""#, duplicateKey: "a", depth: 1)) {
            _ = try JSONParser.parse(#"{"a": 1, "a": 2}"#)
        }
    }

    @Test("Invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xc3, 0x28, 0x22]
        #expect(throws: JSONParseError.self) {
            _ = try bytes.withUnsafeBytes { try JSONParser.parse($0) }
        }
    }

    @Test("Nesting deeper than the limit is rejected instead of exhausting the stack")
    func depthLimit() throws {
        let fine =
            String(repeating: "[", count: JSONParser.maximumDepth)
            + String(repeating: "]", count: JSONParser.maximumDepth)
        _ = try JSONParser.parse(fine)
        let hostile = String(repeating: "[", count: 100_000)
        #expect {
            _ = try JSONParser.parse(hostile)
        } throws: { error in
            (error as? JSONParseError)?.reason.contains("nesting deeper") == true
        }
    }
}
