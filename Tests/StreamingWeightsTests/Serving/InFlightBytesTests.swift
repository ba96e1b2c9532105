import StreamingWeights
import Testing

@Suite("Bytes held for responses in flight")
struct InFlightBytesTests {
    @Test("Objects count once however many responses share them; past the limit a new one waits; one alone always fits")
    func budget() {
        let budget = InFlightBytes(limit: 100)
        var a: InFlightBytes.Reservation? = budget.reserve("a", bytes: 60)
        var b = budget.reserve("b", bytes: 30)
        #expect(a != nil && b != nil && budget.held == 90)
        #expect(budget.reserve("c", bytes: 20) == nil, "90 + 20 passes 100")
        var shared = budget.reserve("a", bytes: 60)
        #expect(shared != nil && budget.held == 90, "a second response for a holds nothing more")
        b = nil
        #expect(budget.held == 60)
        var c = budget.reserve("c", bytes: 20)
        #expect(c != nil && budget.held == 80)
        a = nil
        #expect(budget.held == 80, "a is still held by the second response")
        shared = nil
        c = nil
        #expect(budget.held == 0)
        var large = budget.reserve("large", bytes: 500)
        #expect(large != nil && budget.held == 500, "nothing else held: served however large")
        #expect(budget.reserve("d", bytes: 1) == nil)
        large = nil
        #expect(budget.held == 0)
    }
}
