@testable import BerthRuntime
import Testing

@Suite("Warm gate: admission without the actor")
struct WarmGateTests {
    let t0 = ContinuousClock().now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .milliseconds(Int64(seconds * 1000))) }
    let endpoint = Endpoint(host: "127.0.0.1", port: 40000)

    func target(_ generation: Int) -> WarmGate.Target {
        .init(generation: generation, instanceID: "i\(generation)", endpoints: [8080: endpoint], defaultPort: 8080)
    }

    @Test("a closed gate admits nothing; an open one admits to published ports only")
    func admission() {
        let gate = WarmGate()
        #expect(gate.admit(port: nil, now: at(0)) == nil)
        gate.open(target(1))
        let admitted = gate.admit(port: nil, now: at(1))
        #expect(admitted?.endpoint == endpoint)
        #expect(admitted?.instanceID == "i1")
        #expect(gate.admit(port: 9999, now: at(1)) == nil, "an unpublished port goes to the actor for its error")
        #expect(gate.activity.inFlight == 1)
        gate.close()
        #expect(gate.admit(port: 8080, now: at(2)) == nil)
    }

    @Test("the gate closes for idleness only with nothing in flight and nothing since")
    func closeIfIdle() {
        let gate = WarmGate()
        gate.open(target(1))
        _ = gate.admit(port: nil, now: at(1))
        #expect(!gate.closeIfIdle(since: at(5)), "a request is in flight")
        gate.release(generation: 1, now: at(6))
        #expect(!gate.closeIfIdle(since: at(5)), "a request finished after the expiry")
        #expect(gate.activity.lastActivity == at(6))
        #expect(gate.closeIfIdle(since: at(6)))
        #expect(gate.admit(port: nil, now: at(7)) == nil)
    }

    @Test("a lease of an earlier instance does not count against the next one")
    func generations() {
        let gate = WarmGate()
        gate.open(target(1))
        _ = gate.admit(port: nil, now: at(1))
        gate.close()
        gate.open(target(2))
        _ = gate.admit(port: nil, now: at(2))
        gate.release(generation: 1, now: at(3))
        #expect(gate.activity.inFlight == 1)
        gate.release(generation: 2, now: at(4))
        #expect(gate.activity.inFlight == 0)
    }

    @Test("activity seen at the gate moves the idle deadline, never back")
    func noteActivity() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        _ = m.startSucceeded(generation: 1, now: at(1))
        #expect(m.idleDeadline == at(11))
        m.noteActivity(at: at(5))
        #expect(m.idleDeadline == at(15))
        m.noteActivity(at: at(2))
        #expect(m.idleDeadline == at(15))
        #expect(m.idleTimerFired(now: at(12)) == [])
    }
}
