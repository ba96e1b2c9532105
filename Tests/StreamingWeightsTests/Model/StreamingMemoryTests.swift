import Foundation
import StreamingWeights
import Testing

/// Run by scripts/test on its own, after the other tests: it reads this process's resident
/// memory, which tests running beside it would move.
@Suite("Memory over many streamed passes")
struct StreamingMemoryTests {
    @Test(
        "Received and packed buffers are reused: resident memory stays flat over 1,000 streamed passes",
        .enabled(if: isReleaseBuild, "1,000 passes of MiniLM's 43 MB take minutes in a debug build"))
    func residentMemoryStaysFlat() async throws {
        let served = try await ServedChunks(model: miniLMDirectory)
        let streamed = try await StreamingBertModel(serverURL: served.url, cacheSize: 2, prefetchDepth: 1)
        let batch = try streamed.tokenizer.encodeBatch([try streamed.tokenizer.encode("Hello, world!")])
        let pooled = BufferPool.shared.counts
        for _ in 0..<100 { _ = try await streamed.forward(batch) }
        let settled = try ProcessStatus.mebibytes("VmRSS")
        var samples: [Double] = []
        for pass in 100..<1000 {
            _ = try await streamed.forward(batch)
            if pass % 50 == 0 { samples.append(try ProcessStatus.mebibytes("VmRSS")) }
        }
        // 900 passes receive and pack about 39 GB; anything kept per pass would show. The bound
        // allows for the allocator's ordinary fluctuation, a fraction of one layer (7 MB).
        let growth = (samples.max() ?? settled) - settled
        #expect(growth < 16, "resident memory after 100 passes \(settled) MiB, then \(samples)")
        // Nearly every buffer of the later passes came from the pool.
        let counts = BufferPool.shared.counts
        let mapped = counts.mapped - pooled.mapped
        #expect(counts.reused - pooled.reused > 100 * mapped, "\(counts) since \(pooled)")
    }
}
