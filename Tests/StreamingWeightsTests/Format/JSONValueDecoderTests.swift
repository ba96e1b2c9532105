import Foundation
import StreamingWeights
import Testing

@Suite("Decoding Codable types through the strict JSON parser")
struct JSONValueDecoderTests {
    @Test("A manifest round-trips, and one that lists a chunk twice is refused, not read as the second listing")
    func manifests() async throws {
        let directory = try TemporaryDirectory()
        let manifest = try await ModelChunkerTests.chunk(into: directory.path)
        #expect(try ChunkManifest(json: try manifest.encoded(), source: "m") == manifest)
        // The same key twice: Foundation's JSONDecoder keeps the last one.
        let text = String(decoding: try manifest.encoded(), as: UTF8.self)
        let twice = text.replacingOccurrences(of: "\"layer_0\" : {", with: "\"layer_1\" : {")
        #expect(twice != text)
        #expect(throws: ChunkingError.self) { try ChunkManifest(json: Array(twice.utf8), source: "m") }
        #expect {
            try ChunkManifest(json: Array(twice.utf8), source: "chunk_info.json")
        } throws: { error in
            "\(error)".contains("duplicate") && "\(error)".hasPrefix("the manifest 'chunk_info.json' is invalid")
        }
    }

    @Test("Shapes, types and integers are checked, with the path of what is wrong")
    func errors() throws {
        struct Entry: Decodable, Equatable {
            let size: Int
            let shape: [Int]
            let name: String?
        }
        #expect(
            try JSONValueDecoder.decode(Entry.self, from: Array(#"{"size": 9007199254740993, "shape": [1, 2]}"#.utf8))
                == Entry(size: 9_007_199_254_740_993, shape: [1, 2], name: nil))
        for (json, path) in [
            (#"{"size": 1.5, "shape": []}"#, "size"), (#"{"size": 1, "shape": [1, "x"]}"#, "shape.1"),
            (#"{"shape": []}"#, ""), (#"{"size": 1, "shape": [], "name": 3}"#, "name"),
        ] {
            #expect {
                _ = try JSONValueDecoder.decode(Entry.self, from: Array(json.utf8))
            } throws: { error in
                guard let error = error as? DecodingError else { return false }
                switch error {
                case .typeMismatch(_, let context), .dataCorrupted(let context), .valueNotFound(_, let context):
                    return context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
                        .joined(separator: ".") == path
                case .keyNotFound(let key, _): return key.stringValue == "size"
                @unknown default: return false
                }
            }
        }
        #expect(throws: DecodingError.self) {
            _ = try JSONValueDecoder.decode(Entry.self, from: Array(#"{"size": 1, "size": 2, "shape": []}"#.utf8))
        }
    }
}
