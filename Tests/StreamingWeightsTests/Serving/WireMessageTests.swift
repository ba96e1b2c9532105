import StreamingWeights
import Testing

@Suite("Wire messages")
struct WireMessageTests {
    @Test("A response's payload start and size are told from its first bytes once the header is complete")
    func responseSize() throws {
        let header = WireMessage.Header(
            id: 3, name: "layer_0", size: 5_000_000, sha256: String(repeating: "ab", count: 32), encoding: "identity",
            offset: 1_000_000, length: 4_000_000)
        let prefix = WireMessage.prefix(for: header)
        let payloadStart: [UInt8] = Array(repeating: 7, count: 100)
        #expect(WireMessage.responseLayout(from: prefix + payloadStart)?.size == prefix.count + 4_000_000)
        #expect(WireMessage.responseLayout(from: prefix + payloadStart)?.payloadStart == prefix.count)
        #expect(WireMessage.responseLayout(from: prefix)?.size == prefix.count + 4_000_000)
        #expect(WireMessage.responseLayout(from: Array(prefix.dropLast())) == nil, "header cut short")
        #expect(WireMessage.responseLayout(from: [1, 0]) == nil)
        #expect(
            WireMessage.responseLayout(from: WireMessage.errorResponse(id: 3, WireError(code: .notFound, message: "x")))
                == nil)
        #expect(
            WireMessage.responseLayout(from: [0xFF, 0xFF, 0xFF, 0x7F, 0x7B]) == nil, "a header length past the end")
    }
}
