import Foundation
import StreamingWeights

/// How `infer` prints its results.
enum OutputFormat {
    /// The JSON shape the tools keep across versions:
    /// `{"model", "pooling", "normalized", "results": [{"text", "tokens", "input_ids", "embedding"}], "stats"}`.
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
            /// The kernel set that ran (`avx512`, `avx2`, `neon`, `portable`) and the CPU's model.
            let kernels: String
            let cpu: String
            /// When streaming: the layer cache and the inference statistics.
            var cacheInfo: StreamingBertModel.CacheInfo?
            var inferenceStats: StreamingBertModel.InferenceStats?

            enum CodingKeys: String, CodingKey {
                case forwardPasses = "forward_passes"
                case forwardMsMedian = "forward_ms_median"
                case forwardMsMin = "forward_ms_min"
                case kernels, cpu
                case cacheInfo = "cache_info"
                case inferenceStats = "inference_stats"
            }
        }

        let model: String
        /// How the embeddings were pooled (`cls`, `mean`, `pooler`), and whether normalized.
        let pooling: String
        let normalized: Bool
        let results: [Result]
        let stats: Stats
        /// Cosine similarity of every pair of embeddings, when there are several texts.
        let similarity: [[Float]]?
    }

    static func stats(_ results: TextEncoder.Results, kernels: KernelSet, streaming: StreamingBertModel?)
        -> Document.Stats
    {
        let times = results.forwardTimes
        return Document.Stats(
            forwardPasses: times.count,
            forwardMsMedian: times.isEmpty ? 0 : times[times.count / 2],
            forwardMsMin: times.first ?? 0,
            kernels: kernels.name,
            cpu: KernelSet.cpuModel,
            cacheInfo: streaming?.cacheInfo,
            inferenceStats: streaming?.inferenceStats
        )
    }

    /// `[texts, texts]`: the cosine similarity of each pair of embeddings.
    static func similarity(_ results: TextEncoder.Results) -> [[Float]] {
        let embeddings = results.texts.map(\.embedding)
        func norm(_ vector: [Float]) -> Float { vector.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return embeddings.map { first in
            embeddings.map { second in
                let dot = zip(first, second).reduce(0) { $0 + $1.0 * $1.1 }
                let scale = norm(first) * norm(second)
                return scale == 0 ? 0 : dot / scale
            }
        }
    }

    static func printJSON(
        _ results: TextEncoder.Results, model: String, includeHidden: Bool, kernels: KernelSet,
        streaming: StreamingBertModel?
    ) throws {
        let document = Document(
            model: model,
            pooling: results.pooling.rawValue,
            normalized: results.normalized,
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
            stats: stats(results, kernels: kernels, streaming: streaming),
            similarity: results.texts.count > 1 ? similarity(results) : nil
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(document), as: UTF8.self))
    }

    static func printText(
        _ results: TextEncoder.Results, pooling: String, showStats: Bool, kernels: KernelSet,
        streaming: StreamingBertModel?
    ) {
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
        if results.texts.count > 1 {
            print("cosine similarity:")
            for (index, row) in similarity(results).enumerated() {
                print("  [\(index + 1)] " + row.map { String(format: "%6.3f", $0) }.joined(separator: " "))
            }
            print("")
        }
        if showStats {
            let stats = stats(results, kernels: kernels, streaming: streaming)
            print(
                String(
                    format: "forward: %d passes, median %.3f ms, min %.3f ms", stats.forwardPasses,
                    stats.forwardMsMedian, stats.forwardMsMin))
            print("kernels: \(kernels.name) (\(kernels)) on \(stats.cpu)")
            if let cache = stats.cacheInfo, let inference = stats.inferenceStats {
                print(
                    "layer cache: \(cache.cacheSize) of \(cache.maxCacheSize) layers (\(cache.accessOrder.joined(separator: ", "))), "
                        + String(format: "%.1f MB", cache.memoryUsageMB))
                print(
                    String(
                        format: "inference: %d runs, avg %.3f s, layer cache hit rate %.2f, %d prefetch hits",
                        inference.totalInferences, inference.avgInferenceTime, inference.cacheHitRate,
                        inference.prefetchHits))
                print(
                    String(
                        format: "fetched: %d bytes in %d layer fetches, %.3f s; passes waited %.3f s for layers",
                        inference.bytesFetched, inference.layerFetches, inference.fetchTime, inference.layerWaitTime))
            }
        }
    }

    /// `{"model", "query", "results": [{"text", "logits", "score"}]}` (`score` is sigmoid(logit)
    /// for a one-label head, absent otherwise), or one line per text: score (or logits), text.
    static func printScores(_ scores: [TextEncoder.Score], query: String, model: String, json: Bool) throws {
        struct Result: Encodable {
            let text: String
            let logits: [Float]
            let score: Float?
        }
        struct Scores: Encodable {
            let model: String
            let query: String
            let results: [Result]
        }
        if json {
            let document = Scores(
                model: model, query: query,
                results: scores.map { Result(text: $0.text, logits: $0.logits, score: $0.score) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(document), as: UTF8.self))
            return
        }
        print("query: \(query)")
        for score in scores {
            let value =
                score.score.map { String(format: "%.4f (logit %.4f)", $0, score.logits[0]) }
                ?? "logits [" + score.logits.map(format).joined(separator: ", ") + "]"
            print("\(value)  \(score.text)")
        }
    }

    private static func format(_ value: Float) -> String { String(format: "%.4f", value) }
}
