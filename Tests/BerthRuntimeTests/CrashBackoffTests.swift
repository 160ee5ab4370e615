@testable import BerthRuntime
import BerthConfig
import BerthCore
import Testing

@Suite("Crash-loop backoff")
struct CrashBackoffTests {
    @Test("the schedule: 1s doubling to 60s by default, and as configured")
    func schedule() {
        let d = CrashBackoff()
        #expect((0...9).map { d.delay(afterFailures: $0) } == [0, 1, 2, 4, 8, 16, 32, 60, 60, 60].map { .seconds($0) })
        #expect(d.delay(afterFailures: 10_000) == .seconds(60))
        let custom = CrashBackoff(initial: .milliseconds(500), max: .seconds(3))
        #expect((1...5).map { custom.delay(afterFailures: $0) } == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(3)])
    }

    @Test("a streak refuses with Retry-After (seconds until the next start) and the last exit code")
    func streak() throws {
        let start = ContinuousClock.now
        var streak = CrashStreak(now: start)
        #expect(streak.refusal(at: start) == nil)
        streak.failed(at: start, exitCode: 3, reason: "", backoff: CrashBackoff())
        let first = try #require(streak.refusal(at: start))
        #expect(first.code == .unavailable && first.code.httpStatus == 503)
        #expect(first.retryAfterSeconds == 1)
        #expect(first.message.contains("exited with code 3 once; next start in 1s"))
        #expect(streak.refusal(at: start.advanced(by: .seconds(1))) == nil)
        let later = start.advanced(by: .seconds(1))
        streak.failed(at: later, exitCode: 3, reason: "", backoff: CrashBackoff())
        streak.failed(at: later, exitCode: 4, reason: "", backoff: CrashBackoff())
        let third = try #require(streak.refusal(at: later.advanced(by: .milliseconds(1500))))
        #expect(third.retryAfterSeconds == 3)
        #expect(third.message.contains("exited with code 4 3 times in a row; next start in 3s"))
    }

    @Test("failed starts back off: no engine call while waiting, the wait survives forgetting, a healthy start ends it")
    func controller() async throws {
        let f = try ControllerFixture { settings in
            settings.crashBackoff = CrashBackoff(initial: .seconds(10), max: .seconds(40))
            settings.objectIdleForget = .seconds(1)
        }
        let exited = BerthError(.startFailed, "the container exited with code 3 as soon as it started", cause: InstanceExited(exitCode: 3))
        f.runtime.failStarts(with: exited)
        let id = f.containerClass.idFromName("crashy")
        func attempt() async -> BerthError? {
            do throws(BerthError) {
                let lease = try await f.containerClass.get(id).acquire()
                await lease.release()
                return nil
            } catch { return error }
        }
        let failed = try #require(await attempt())
        #expect(failed.code == .startFailed)
        #expect(failed.message.contains("exited with code 3") && failed.message.contains("next start in 10s"))
        let refused = try #require(await attempt())
        #expect(refused.code == .unavailable)
        #expect(refused.retryAfterSeconds == 10)
        #expect(refused.message.contains("exited with code 3 once"))
        #expect(f.runtime.count("start") == 1)

        // Forgotten while it waits: the new controller of the id waits too.
        await f.containerClass.get(id).hooksSettled()
        f.time.advance(by: .seconds(5))
        #expect(f.containerClass.forgetIdleObjects() == 1)
        #expect(f.containerClass.objectCount == 0)
        #expect(await attempt()?.retryAfterSeconds == 5)
        #expect(f.runtime.count("start") == 1)

        // The wait doubles.
        f.time.advance(by: .seconds(5))
        #expect(await attempt()?.code == .startFailed)
        #expect(f.runtime.count("start") == 2)
        #expect(await attempt()?.retryAfterSeconds == 20)
        #expect(f.containerClass.failedStarts(id)?.count == 2)
        #expect(f.containerClass.failedStarts(id)?.lastExitCode == 3)

        // Fixed: the next start after the wait succeeds and ends the streak.
        f.runtime.failStarts(with: nil)
        f.time.advance(by: .seconds(20))
        #expect(await attempt() == nil)
        #expect(f.containerClass.failedStarts(id) == nil)
        #expect(f.runtime.count("start") == 3)
        await f.shutdown()
    }

    @Test("a crash loop starts the same container again: one engine call per attempt, the same instance, its 500 says when")
    func restartInPlace() async throws {
        let f = try ControllerFixture { settings in
            settings.crashBackoff = CrashBackoff(initial: .seconds(10), max: .seconds(40))
        }
        f.runtime.exitOnStart(3)
        let id = f.containerClass.idFromName("crashy")
        let failed = try #require(await Self.attempt(f, id))
        #expect(failed.code == .startFailed)
        #expect(failed.retryAfterSeconds == 10)
        // The stopped container stays, kept by the class for the next attempt.
        let container = try #require(f.runtime.containers.first)
        let instance = try #require(container.spec.labels[BerthLabel.instance])
        #expect(f.runtime.containers.count == 1 && !container.running)
        #expect(f.containerClass.parkedContainerCount == 1)
        #expect(f.runtime.count("remove") == 0)

        f.time.advance(by: .seconds(10))
        #expect(await Self.attempt(f, id)?.retryAfterSeconds == 20)
        #expect(f.runtime.count("start") == 1)
        #expect(f.runtime.count("restart") == 1)
        #expect(f.runtime.containerIDs == [container.id])

        // Fixed: the same container starts, as the same instance; nothing is parked any more.
        f.runtime.exitOnStart(nil)
        f.time.advance(by: .seconds(20))
        #expect(await Self.attempt(f, id) == nil)
        #expect(f.runtime.count("start") == 1)
        #expect(f.runtime.count("restart") == 2)
        #expect(f.runtime.running.map(\.id) == [container.id])
        #expect(await f.containerClass.get(id).instanceID == instance)
        #expect(f.containerClass.parkedContainerCount == 0)
        #expect(f.containerClass.failedStarts(id) == nil)
        await f.shutdown()
    }

    @Test("a parked container goes with another deployment, a stale wait and the class's stop; reconciliation leaves it")
    func parkedContainerGoes() async throws {
        let f = try ControllerFixture(maxInstances: 2) { settings in
            settings.crashBackoff = CrashBackoff(initial: .seconds(10), max: .seconds(40))
        }
        f.runtime.exitOnStart(3)
        func crash(_ name: String) async throws -> (ObjectID, String) {
            let id = f.containerClass.idFromName(name)
            _ = try #require(await Self.attempt(f, id))
            let parked = try #require(f.containerClass.parked(id))
            return (id, parked.containerID)
        }
        // Reconciliation (at start, or when the engine answers again) leaves it in place.
        let (first, firstContainer) = try await crash("first")
        let outcome = try await Reconciler(runtime: f.runtime, logger: .init(label: "test")).reconcile(
            owner: "\(BerthLabel.className)=Mem", classes: { [f] in $0 == "Mem" ? f.containerClass : nil }, knownDeployments: ["d1"], grace: .seconds(1)
        )
        #expect(outcome.removed.isEmpty)
        #expect(f.runtime.containerIDs.contains(firstContainer))

        // At most max_instances are parked: beyond, a crashed container is removed as before.
        let (second, _) = try await crash("second")
        _ = try #require(await Self.attempt(f, f.containerClass.idFromName("third")))
        #expect(f.containerClass.parkedContainerCount == 2)
        await f.eventually("the unparked container removed") { f.runtime.containerIDs.count == 2 }

        // Another deployment: the next start creates a container of its own, the parked one goes.
        var spec = f.containerClass.spec
        spec.deploymentID = "d2"
        f.containerClass.update(spec)
        f.time.advance(by: .seconds(10))
        #expect(await Self.attempt(f, first)?.code == .startFailed)
        #expect(f.runtime.count("start") == 4)
        await f.eventually("the old deployment's container removed") { !f.runtime.containerIDs.contains(firstContainer) }
        #expect(f.containerClass.parked(first)?.containerID != firstContainer)

        // Nobody comes back a whole crash_backoff.max after the wait: removed, the streak stays.
        f.time.advance(by: .seconds(10 + 40))
        f.containerClass.forgetIdleObjects()
        #expect(f.containerClass.parked(second) == nil)
        #expect(f.containerClass.failedStarts(second)?.count == 1)

        // The class stops: every parked container is removed before stopAll returns.
        #expect(f.containerClass.parkedContainerCount == 1)
        await f.containerClass.stopAll()
        #expect(f.containerClass.parkedContainerCount == 0)
        await f.eventually("every container removed") { f.runtime.containerIDs.isEmpty }
        await f.shutdown()
    }

    static func attempt(_ f: ControllerFixture, _ id: ObjectID) async -> BerthError? {
        do throws(BerthError) {
            let lease = try await f.containerClass.get(id).acquire()
            await lease.release()
            return nil
        } catch { return error }
    }

    @Test("an engine error, a slow or unreachable engine and a full max_instances do not count as crashes")
    func notCrashes() {
        #expect(!ContainerController.isContainerFailure(BerthError(.timeout, "slow"), created: false))
        #expect(!ContainerController.isContainerFailure(BerthError(.engineUnavailable, "down"), created: false))
        #expect(!ContainerController.isContainerFailure(BerthError(.capacityExceeded, "full"), created: true))
        #expect(!ContainerController.isContainerFailure(BerthError(.engineError, "no space left on device"), created: false))
        #expect(ContainerController.isContainerFailure(BerthError(.startFailed, "exited", cause: InstanceExited(exitCode: 3)), created: false))
        #expect(ContainerController.isContainerFailure(BerthError(.timeout, "port 8080 did not answer"), created: true))
    }
}
