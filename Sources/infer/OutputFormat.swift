import Foundation
import StreamingWeights

/// How `infer` prints its results.
enum OutputFormat {
    /// The JSON shape the tools keep across versions:
    /// `{"model", "results": [{"text", "tokens", "input_ids", "embedding"}], "stats"}`.
    struct Document: Encodable {
        struct Result: Encodable {
            let text: String
            let tokens: [String]
            let inputIDs: [Int32]
            let embedding: [Float]
            let lastHiddenState: [[Float]]?
            let poolerOutput: [Float]?

            enum CodingKeys: String, CodingKey {
                case text, tokens, embedding
                case inputIDs = "input_ids"
                case lastHiddenState = "last_hidden_state"
                case poolerOutput = "pooler_output"
            }
        }

        struct Stats: Encodable {
            let forwardPasses: Int
            let forwardMsMedian: Double
            let forwardMsMin: Double

            enum CodingKeys: String, CodingKey {
                case forwardPasses = "forward_passes"
                case forwardMsMedian = "forward_ms_median"
                case forwardMsMin = "forward_ms_min"
            }
        }

        let model: String
        let results: [Result]
        let stats: Stats
    }

    static func stats(_ results: TextEncoder.Results) -> Document.Stats {
        let times = results.forwardTimes
        return Document.Stats(
            forwardPasses: times.count,
            forwardMsMedian: times.isEmpty ? 0 : times[times.count / 2],
            forwardMsMin: times.first ?? 0
        )
    }

    static func printJSON(_ results: TextEncoder.Results, model: String, includeHidden: Bool) throws {
        let document = Document(
            model: model,
            results: results.texts.map { text in
                Document.Result(
                    text: text.text,
                    tokens: text.tokens,
                    inputIDs: text.inputIDs,
                    embedding: text.embedding,
                    lastHiddenState: includeHidden ? text.lastHiddenState : nil,
                    poolerOutput: includeHidden ? text.poolerOutput : nil
                )
            },
            stats: stats(results)
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(document), as: UTF8.self))
    }

    static func printText(_ results: TextEncoder.Results, pooling: String, showStats: Bool) {
        for text in results.texts {
            print("text: \(text.text)")
            print("tokens: \(text.tokens.joined(separator: " "))")
            let values = text.embedding
            let shown =
                values.count > 8
                ? values.prefix(4).map(format) + ["..."] + values.suffix(4).map(format) : values.map(format)
            print("embedding (\(values.count), \(pooling)): [\(shown.joined(separator: ", "))]")
            print("")
        }
        if showStats {
            let stats = stats(results)
            print(
                String(
                    format: "forward: %d passes, median %.3f ms, min %.3f ms", stats.forwardPasses,
                    stats.forwardMsMedian, stats.forwardMsMin))
        }
    }

    private static func format(_ value: Float) -> String { String(format: "%.4f", value) }
}
