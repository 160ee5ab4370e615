@testable import BerthRuntime
import BerthCore
import Testing

@Suite("Container lifecycle state machine")
struct ControllerStateMachineTests {
    let t0 = ContinuousClock().now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    func healthyMachine(sleepAfter: Duration = .seconds(10)) -> ControllerStateMachine {
        var m = ControllerStateMachine(now: t0, sleepAfter: sleepAfter)
        _ = m.requestArrived(now: t0)
        _ = m.startSucceeded(generation: 1, now: t0)
        m.waiterAdmitted(now: t0)
        return m
    }

    @Test("concurrent first requests produce exactly one start")
    func singleFlight() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        #expect(m.status == .stopped)
        let first = m.requestArrived(now: at(0))
        #expect(first.0 == .wait)
        #expect(first.1 == [.start(generation: 1)])
        #expect(m.status == .running)
        for _ in 0..<100 {
            let next = m.requestArrived(now: at(0.001))
            #expect(next.0 == .wait)
            #expect(next.1.isEmpty)
        }
        #expect(m.startSucceeded(generation: 1, now: at(0.5)) == [.resumeWaiters])
        #expect(m.status == .healthy)
        #expect(m.requestArrived(now: at(0.6)).0 == .proceed)
    }

    @Test("a failed start fails the waiters; the next request starts again")
    func failedStart() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        #expect(m.startFailed(generation: 1) == [.failWaiters])
        #expect(m.status == .stopped)
        #expect(m.requestArrived(now: at(1)).1 == [.start(generation: 2)])
        // A late report about the old attempt changes nothing.
        #expect(m.startSucceeded(generation: 1, now: at(2)) == [])
        #expect(m.status == .running)
    }

    @Test("the idle timer never fires while a request is in flight, and counts from the last one's end")
    func idle() {
        var m = healthyMachine()
        #expect(m.inFlight == 1)
        #expect(m.idleDeadline == nil)
        #expect(m.idleTimerFired(now: at(3600)) == [])
        m.requestFinished(now: at(3600))
        #expect(m.idleDeadline == at(3610))
        #expect(m.idleTimerFired(now: at(3609.9)) == [])
        #expect(m.idleTimerFired(now: at(3610)) == [.activityExpired(generation: 1)])
        // Not stopping renews the timer.
        #expect(m.idleDeadline == at(3620))
        m.renewActivity(now: at(3615))
        #expect(m.idleDeadline == at(3625))
    }

    @Test("a crash is stopped_with_code, reported as an exit")
    func crash() {
        var m = healthyMachine()
        #expect(m.containerExited(generation: 1, exitCode: 2) == [.stopped(generation: 1, exitCode: 2, reason: .exit)])
        #expect(m.status == .stoppedWithCode(2))
        #expect(m.status.name == "stopped_with_code")
        #expect(m.inFlight == 0)
        #expect(m.requestArrived(now: at(1)).1 == [.start(generation: 2)])
    }

    @Test("stop goes through stopping to stopped, reported as a runtime signal")
    func stop() {
        var m = healthyMachine()
        m.requestFinished(now: at(1))
        #expect(m.stopRequested(kill: false) == [.stop(generation: 1, kill: false)])
        #expect(m.status == .stopping)
        #expect(m.stopRequested(kill: false) == [])
        #expect(m.stopRequested(kill: true) == [.stop(generation: 1, kill: true)])
        #expect(m.containerExited(generation: 1, exitCode: 143) == [.stopped(generation: 1, exitCode: 143, reason: .runtimeSignal)])
        #expect(m.status == .stopped)
    }

    @Test("requests that arrive while stopping start a new instance once the old one is gone")
    func restartAfterStop() {
        var m = healthyMachine()
        _ = m.stopRequested(kill: false)
        #expect(m.requestArrived(now: at(1)).0 == .wait)
        #expect(m.containerExited(generation: 1, exitCode: 0) == [
            .stopped(generation: 1, exitCode: 0, reason: .runtimeSignal), .start(generation: 2),
        ])
        #expect(m.status == .running)
    }

    @Test("stopping or exiting during a start fails the waiting requests")
    func interruptedStart() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        #expect(m.stopRequested(kill: true) == [.failWaiters, .stop(generation: 1, kill: true)])
        #expect(m.startSucceeded(generation: 1, now: at(1)) == [.failWaiters])

        var n = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = n.requestArrived(now: t0)
        #expect(n.containerExited(generation: 1, exitCode: 1) == [.failWaiters, .stopped(generation: 1, exitCode: 1, reason: .exit)])
        #expect(n.status == .stoppedWithCode(1))
    }

    @Test("a start that fails after a stop was requested ends in stopped, and restarts for requests that came meanwhile")
    func failedStartWhileStopping() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        _ = m.stopRequested(kill: false)
        #expect(m.startFailed(generation: 1) == [])
        #expect(m.status == .stopped)

        var n = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = n.requestArrived(now: t0)
        _ = n.stopRequested(kill: false)
        #expect(n.requestArrived(now: at(1)).0 == .wait)
        #expect(n.startFailed(generation: 1) == [.start(generation: 2)])
        #expect(n.status == .running)
    }

    @Test("object ids: deterministic from names, validated from strings")
    func ids() throws {
        let a = ObjectID.fromName("/container/1", className: "MyContainer", app: "hello")
        #expect(a == ObjectID.fromName("/container/1", className: "MyContainer", app: "hello"))
        #expect(a.hex.count == 64)
        #expect(a != ObjectID.fromName("/container/2", className: "MyContainer", app: "hello"))
        #expect(a != ObjectID.fromName("/container/1", className: "Other", app: "hello"))
        #expect(try ObjectID.fromString(a.hex.uppercased()) == a)
        #expect(throws: BerthError.self) { try ObjectID.fromString("xyz") }
        #expect(ObjectID.unique() != ObjectID.unique())
    }

    @Test("adopting a running container: starting until its ports answer, with a new generation; never over an instance")
    func adopt() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        #expect(m.adopt(now: at(1)) == 1)
        #expect(m.status == .running, "not served before its ports answer")
        #expect(m.requestArrived(now: at(2)).0 == .wait)
        #expect(m.startSucceeded(generation: 1, endpoints: ControllerStateMachine.testRunning(1).endpoints, now: at(2)) == [.resumeWaiters])
        #expect(m.status == .healthy)
        m.waiterAdmitted(now: at(2))
        m.requestFinished(now: at(2))
        #expect(m.idleDeadline == at(12))
        #expect(m.adopt(now: at(3)) == nil, "an object that has an instance adopts no second one")
        #expect(m.containerExited(generation: 1, exitCode: 0) == [.stopped(generation: 1, exitCode: 0, reason: .exit)])
        #expect(m.adopt(now: at(4)) == 2)
    }

    @Test("an adopted instance whose ports never answer is discarded; waiting requests get a fresh start")
    func adoptionFailed() {
        var m = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        #expect(m.adopt(now: at(1)) == 1)
        let adopted = m.phase.instance!
        #expect(m.adoptionFailed(generation: 2, restart: true, launch: ControllerStateMachine.testLaunch(2)) == [], "another generation changes nothing")
        #expect(m.adoptionFailed(generation: 1, restart: true, launch: ControllerStateMachine.testLaunch(2)) == [.discard(adopted), .start(generation: 2)])
        #expect(m.status == .running)
        #expect(m.phase.instance?.adopted == false)
        #expect(m.adoptionFailed(generation: 2, restart: true, launch: ControllerStateMachine.testLaunch(3)) == [], "a fresh start is not an adoption")

        var idle = ControllerStateMachine(now: t0, sleepAfter: .seconds(10))
        _ = idle.adopt(now: at(1))
        let unused = idle.phase.instance!
        #expect(idle.adoptionFailed(generation: 1, restart: false, launch: ControllerStateMachine.testLaunch(2)) == [.discard(unused)])
        #expect(idle.status == .stopped)
    }
}

@Suite("Container lifecycle state machine: phases own their instance")
struct ControllerStateMachinePhaseTests {
    let t0 = ContinuousClock().now
    typealias M = ControllerStateMachine

    @Test("an instance is made at the start, takes its slot and container, and leaves with an action that frees them")
    func instanceLifecycle() {
        var m = M(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        guard case .starting(let starting) = m.phase else { Issue.record("not starting: \(m.phase)"); return }
        #expect(starting.generation == 1)
        #expect(starting.launch.instanceID == "i1")
        #expect(starting.running == nil)
        #expect(!starting.slotHeld)
        let acquired = m.slotAcquired(generation: 1)
        #expect(acquired)
        #expect(m.phase.instance?.slotHeld == true)
        #expect(m.instanceCreated(generation: 1, running: M.testRunning(1)) == [.probe(generation: 1)])
        #expect(m.phase.instance?.running?.containerID == "c1")
        let direct = [8080: Endpoint(host: "172.17.0.2", port: 8080)]
        #expect(m.startSucceeded(generation: 1, endpoints: direct, now: t0) == [.resumeWaiters])
        guard case .healthy(let healthy) = m.phase else { Issue.record("not healthy: \(m.phase)"); return }
        #expect(healthy.running?.endpoints == direct)
        #expect(healthy.launch == starting.launch)
        #expect(m.stopRequested(kill: false) == [.stop(generation: 1, kill: false)])
        #expect(m.phase == .stopping(healthy, restart: false))
        #expect(m.containerExited(generation: 1, exitCode: 0) == [
            .stopped(generation: 1, exitCode: 0, reason: .runtimeSignal), .releaseSlot(generation: 1),
        ])
        #expect(m.phase == .stopped(exitCode: nil))
        #expect(m.phase.instance == nil)
    }

    @Test("a start given up on hands its container and slot back in one discard, before the waiters fail")
    func discard() {
        var m = M(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        _ = m.slotAcquired(generation: 1)
        _ = m.instanceCreated(generation: 1, running: M.testRunning(1))
        let instance = m.phase.instance!
        #expect(m.startFailed(generation: 1) == [.discard(instance), .failWaiters])
        #expect(m.status == .stopped)
        #expect(m.instanceCreated(generation: 1, running: M.testRunning(1)) == [], "a late event about it changes nothing")
        let lateSlot = m.slotAcquired(generation: 1)
        #expect(!lateSlot, "a slot for a start given up on is given back by the caller")

        var n = M(now: t0, sleepAfter: .seconds(10))
        _ = n.requestArrived(now: t0)
        _ = n.slotAcquired(generation: 1)
        let slotOnly = n.phase.instance!
        #expect(n.startFailed(generation: 1) == [.discard(slotOnly), .failWaiters], "the engine refused: only the slot goes back")
    }

    @Test("stopped before its container exists: killed once created, stopped once it exited")
    func stopBeforeCreated() {
        var m = M(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        _ = m.slotAcquired(generation: 1)
        #expect(m.stopRequested(kill: false) == [.failWaiters, .stop(generation: 1, kill: false)])
        #expect(m.instanceCreated(generation: 1, running: M.testRunning(1)) == [.stop(generation: 1, kill: true)])
        #expect(m.startFailed(generation: 1) == [], "the probe cut off by the stop: the exit finishes the job")
        #expect(m.status == .stopping)
        #expect(m.containerExited(generation: 1, exitCode: 137) == [
            .stopped(generation: 1, exitCode: 137, reason: .runtimeSignal), .releaseSlot(generation: 1),
        ])
        #expect(m.status == .stopped)
    }

    @Test("a restart frees the old slot before the new start takes one")
    func restartOrder() {
        var m = M(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        _ = m.slotAcquired(generation: 1)
        _ = m.startSucceeded(generation: 1, now: t0)
        _ = m.stopRequested(kill: false)
        _ = m.requestArrived(now: t0)
        #expect(m.containerExited(generation: 1, exitCode: 0) == [
            .stopped(generation: 1, exitCode: 0, reason: .runtimeSignal), .releaseSlot(generation: 1), .start(generation: 2),
        ])
        #expect(m.phase.instance?.launch.instanceID == "i2")
        #expect(m.phase.instance?.slotHeld == false)
    }

    @Test("an adopted instance holds its slot; a crash gives it back")
    func adoptedSlot() {
        var m = M(now: t0, sleepAfter: .seconds(10))
        #expect(m.adopt(now: t0, launch: M.testLaunch(1), running: M.testRunning(1), slotHeld: true) == 1)
        #expect(m.phase.instance?.slotHeld == true)
        _ = m.startSucceeded(generation: 1, endpoints: M.testRunning(1).endpoints, now: t0)
        #expect(m.containerExited(generation: 1, exitCode: 3) == [
            .stopped(generation: 1, exitCode: 3, reason: .exit), .releaseSlot(generation: 1),
        ])
    }

    @Test("a healthy instance takes a new deployment in place")
    func inPlaceChanges() {
        var m = M(now: t0, sleepAfter: .seconds(10))
        _ = m.requestArrived(now: t0)
        _ = m.startSucceeded(generation: 1, now: t0)
        let settings = SettingsBox(M.testSettings.value)
        m.joinDeployment("d2", settings: settings)
        #expect(m.phase.instance?.launch.deploymentID == "d2")
        #expect(m.phase.instance?.launch.settings === settings)
        #expect(m.phase.instance?.launch.instanceID == "i1")
    }
}
