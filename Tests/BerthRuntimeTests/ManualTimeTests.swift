@testable import BerthRuntime
import Testing

@Suite("Manual time for tests")
struct ManualTimeTests {
    @Test("a sleep ends when time reaches its deadline, not before; a past deadline returns at once")
    func sleeps() async throws {
        let time = ManualTime()
        let clock = BerthClock.manual(time)
        let start = clock.now
        let sleeper = Task { try await clock.sleep(until: start.advanced(by: .seconds(10))) }
        while time.sleeperCount == 0 { await Task.yield() }
        time.advance(by: .seconds(9))
        #expect(time.sleeperCount == 1)
        time.advance(by: .seconds(1))
        try await sleeper.value
        #expect(clock.now == start.advanced(by: .seconds(10)))
        try await clock.sleep(until: start)
    }

    @Test("cancelling a sleep ends it with CancellationError")
    func cancel() async {
        let time = ManualTime()
        let sleeper = Task { try await time.sleep(until: time.now.advanced(by: .seconds(60))) }
        while time.sleeperCount == 0 { await Task.yield() }
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(time.sleeperCount == 0)
    }
}
