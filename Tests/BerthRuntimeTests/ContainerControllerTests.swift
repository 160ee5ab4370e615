import AsyncHTTPClient
@testable import BerthRuntime
import BerthCore
import BerthTestSupport
import Testing

/// Records hook calls in the order they finish; `onStop` takes a little while, so a hook
/// started out of order would finish out of order.
actor HookLog {
    private(set) var entries: [String] = []
    func add(_ entry: String) { entries.append(entry) }
}

struct RecordingHooks: ContainerHooks {
    let log: HookLog
    var expire = true
    func onStart() async { await log.add("start") }
    func onStop(exitCode: Int, reason: StopReason) async {
        try? await Task.sleep(for: .milliseconds(20))
        await log.add("stop(\(exitCode),\(reason.rawValue))")
    }
    func onError(_ error: BerthError) async { await log.add("error") }
    func onActivityExpired() async -> Bool {
        await log.add("expired")
        return expire
    }
}

/// A container class on the in-memory engine (its instances serve on loopback ports), and a
/// manual clock.
final class ControllerFixture: Sendable {
    let runtime = MemoryEngine()
    let http: HTTPClient
    let time = ManualTime()
    let log = HookLog()
    let containerClass: ContainerClass

    init(
        maxInstances: Int = 10, sleepAfter: Duration = .seconds(600), expire: Bool = true,
        configure: (inout ContainerSettings) -> Void = { _ in },
        hooks: (@Sendable (HookLog) -> any ContainerHooks)? = nil
    ) throws {
        runtime.addImage("img")
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        var settings = ContainerSettings(app: "app", className: "Mem", containerName: "mem", image: "img", defaultPort: 8080)
        settings.sleepAfter = sleepAfter
        settings.portReadyTimeout = .seconds(5)
        configure(&settings)
        let log = self.log
        containerClass = ContainerClass(
            spec: ClassSpec(settings: settings, maxInstances: maxInstances, deploymentID: "d1"), runtime: runtime, http: http,
            hooks: { _ in hooks?(log) ?? RecordingHooks(log: log, expire: expire) }, clock: .manual(time)
        )
    }

    func shutdown() async {
        await containerClass.stopAll()
        try? await http.shutdown()
        runtime.shutdown()
    }

    /// Waits (briefly, in real time) until `condition` holds.
    func eventually(_ what: String, _ condition: @Sendable () async -> Bool) async {
        for _ in 0..<500 {
            if await condition() { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("timed out waiting for \(what)")
    }
}

@Suite("Container controller on an in-memory runtime")
struct ContainerControllerTests {
    @Test("100 concurrent acquires start one instance and all get a lease")
    func singleFlight() async throws {
        let f = try ControllerFixture()
        let object = f.containerClass.getByName("one")
        let leases = try await withThrowingTaskGroup(of: ContainerLease.self) { group in
            for _ in 0..<100 { group.addTask { try await object.acquire() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(leases.count == 100)
        #expect(f.runtime.count("start") == 1)
        #expect(Set(leases.map(\.instanceID)).count == 1)
        #expect(await object.status == .healthy)
        for lease in leases { await lease.release() }
        #expect(await object.snapshot().inFlight == 0)
        await f.shutdown()
    }

    @Test("hooks run in order across start and stop cycles: onStart never before the previous onStop")
    func hooksInOrder() async throws {
        let f = try ControllerFixture()
        let object = f.containerClass.getByName("cycles")
        for _ in 0..<3 {
            try await object.startAndWaitForPorts()
            await object.stop()
        }
        try await object.startAndWaitForPorts()
        let id = try #require(await object.containerID)
        f.runtime.exit(id, code: 3)
        await f.eventually("the crash") { await object.status == .stoppedWithCode(3) }
        await object.hooksSettled()
        let stop = "stop(143,runtime_signal)"
        #expect(await f.log.entries == ["start", stop, "start", stop, "start", stop, "start", "stop(3,exit)", "error"])
        await f.shutdown()
    }

    @Test("max_instances refuses a second object; the first one's exit frees its slot")
    func maxInstances() async throws {
        let f = try ControllerFixture(maxInstances: 1)
        let a = f.containerClass.getByName("a"), b = f.containerClass.getByName("b")
        try await a.startAndWaitForPorts()
        await #expect {
            try await b.startAndWaitForPorts()
        } throws: { error in
            (error as? BerthError)?.code == .capacityExceeded
        }
        #expect(await b.status == .stopped)
        #expect(f.containerClass.budget.inUse == 1)
        let id = try #require(await a.containerID)
        f.runtime.exit(id, code: 0)
        await f.eventually("the exit") { await a.status == .stoppedWithCode(0) }
        #expect(f.containerClass.budget.inUse == 0)
        try await b.startAndWaitForPorts()
        #expect(await b.status == .healthy)
        #expect(f.runtime.count("start") == 2)
        await f.shutdown()
    }

    @Test("a failed start fails every waiting request, with one onError")
    func startFailure() async throws {
        let f = try ControllerFixture()
        f.runtime.failStarts(with: BerthError(.internal, "no such image"))
        f.runtime.holdStarts()
        let object = f.containerClass.getByName("broken")
        let outcomes = await withTaskGroup(of: BerthError?.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do throws(BerthError) { _ = try await object.acquire() } catch { return error }
                    return nil
                }
            }
            await f.eventually("the start") { f.runtime.heldStartCount == 1 }
            await f.eventually("every request waiting") { await object.waiters.count == 10 }
            f.runtime.releaseStarts()
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 10)
        #expect(outcomes.allSatisfy { $0?.message.contains("no such image") == true })
        #expect(f.runtime.count("start") == 1)
        #expect(await object.status == .stopped)
        #expect(await object.snapshot().failure?.contains("no such image") == true)
        #expect(f.containerClass.budget.inUse == 0)
        await object.hooksSettled()
        #expect(await f.log.entries == ["error"])
        await f.shutdown()
    }

    @Test("a stop while the engine is starting the container fails the waiters, then kills it once it exists")
    func stopWhileStarting() async throws {
        let f = try ControllerFixture()
        f.runtime.holdStarts()
        let object = f.containerClass.getByName("interrupted")
        let request = Task { try await object.acquire() }
        await f.eventually("the start") { f.runtime.heldStartCount == 1 }
        let stopped = Task { await object.stop() }
        await f.eventually("stopping") { await object.status == .stopping }
        await #expect(throws: BerthError.self) { _ = try await request.value }
        f.runtime.releaseStarts()
        await stopped.value
        #expect(await object.status == .stopped)
        #expect(f.runtime.count("kill") == 1)
        await f.eventually("the slot") { f.containerClass.budget.inUse == 0 }
        #expect(f.runtime.containerIDs.isEmpty)
        await f.shutdown()
    }

    @Test("idle for sleepAfter on the injected clock: onActivityExpired, then a stop")
    func idleExpiry() async throws {
        let f = try ControllerFixture(sleepAfter: .seconds(10))
        let object = f.containerClass.getByName("idle")
        let lease = try await object.acquire()
        await lease.release()
        let warm = try #require(object.tryAcquireWarm())
        await warm.release()
        await f.eventually("the idle timer") { f.time.sleeperCount == 1 }
        f.time.advance(by: .seconds(9))
        await object.hooksSettled()
        #expect(await object.status == .healthy)
        f.time.advance(by: .seconds(2))
        await f.eventually("the idle stop") { await object.status == .stopped }
        await object.hooksSettled()
        #expect(await f.log.entries == ["start", "expired", "stop(143,runtime_signal)"])
        #expect(f.containerClass.budget.inUse == 0)
        await f.shutdown()
    }

    @Test("an onActivityExpired that answers false keeps the instance, and is asked again later")
    func idleKept() async throws {
        let f = try ControllerFixture(sleepAfter: .seconds(10), expire: false)
        let object = f.containerClass.getByName("kept")
        try await object.startAndWaitForPorts()
        await f.eventually("the idle timer") { f.time.sleeperCount == 1 }
        f.time.advance(by: .seconds(11))
        await f.eventually("the first expiry") { await f.log.entries.contains("expired") }
        await f.eventually("the renewed timer") { f.time.sleeperCount == 1 }
        f.time.advance(by: .seconds(11))
        await f.eventually("the second expiry") { await f.log.entries.filter { $0 == "expired" }.count == 2 }
        #expect(await object.status == .healthy)
        await f.shutdown()
    }
}
