@testable import BerthRuntime
import BerthCore
import Synchronization
import Testing

/// What ran through a pacer: how many at once, in which order; each call waits until released.
private final class PacedCalls: Sendable {
    private let state = Mutex((running: 0, most: 0, order: [Int](), held: [CheckedContinuation<Void, Never>]()))
    var most: Int { state.withLock { $0.most } }
    var order: [Int] { state.withLock { $0.order } }

    func call(_ i: Int) async {
        await withCheckedContinuation { c in
            state.withLock { s in
                s.running += 1
                s.most = max(s.most, s.running)
                s.order.append(i)
                s.held.append(c)
            }
        }
        state.withLock { $0.running -= 1 }
    }

    /// Releases the oldest held call, if any.
    func releaseOne() -> Bool {
        guard let next = state.withLock({ $0.held.isEmpty ? nil : $0.held.removeFirst() }) else { return false }
        next.resume()
        return true
    }
}

@Suite("Engine pacing")
struct EnginePacerTests {
    @Test("at most limit calls run at once; the others go in arrival order")
    func boundedAndFIFO() async throws {
        let pacer = EnginePacer(limit: 2)
        let calls = PacedCalls()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask { try await pacer.run { () async throws(BerthError) in await calls.call(i) } }
                // Arrival order is the order the calls reach the pacer.
                for _ in 0..<500 where pacer.running + pacer.waiting < i + 1 { try await Task.sleep(for: .milliseconds(1)) }
            }
            #expect(pacer.running == 2 && pacer.waiting == 6)
            // One call is released only once every call the pacer let go has reached its body:
            // two let go at once could reach it in either order, which is the scheduler's and
            // not the pacer's.
            var released = 0
            for _ in 0..<5000 where released < 8 {
                if calls.order.count >= min(8, released + 2), calls.releaseOne() {
                    released += 1
                } else {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            #expect(released == 8)
            try await group.waitForAll()
        }
        #expect(calls.most == 2)
        #expect(calls.order == Array(0..<8))
        #expect(pacer.running == 0 && pacer.waiting == 0)
    }

    @Test("raising the limit lets queued calls go at once")
    func raise() async throws {
        let pacer = EnginePacer(limit: 1)
        let calls = PacedCalls()
        async let first: Void = pacer.run { () async throws(BerthError) in await calls.call(1) }
        for _ in 0..<500 where pacer.running == 0 { try await Task.sleep(for: .milliseconds(1)) }
        async let second: Int = pacer.run { () async throws(BerthError) in 2 }
        for _ in 0..<500 where pacer.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(pacer.waiting == 1)
        pacer.limit = 2
        #expect(try await second == 2)
        for _ in 0..<500 where !calls.releaseOne() { try await Task.sleep(for: .milliseconds(1)) }
        try await first
        #expect(pacer.running == 0)
    }
}
