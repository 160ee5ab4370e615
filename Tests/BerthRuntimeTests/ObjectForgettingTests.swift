import BerthCore
@testable import BerthRuntime
import Testing

/// Opens once; until then every `wait()` waits.
actor Latch {
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var isOpen = false
    var waiting: Int { waiters.count }

    func wait() async {
        guard !isOpen else { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}

/// Hooks whose `onStop` waits for a latch: the object has a hook to run until it opens.
struct LatchedStopHooks: ContainerHooks {
    let latch: Latch
    func onStop(exitCode: Int, reason: StopReason) async { await latch.wait() }
}

@Suite("Objects that hold nothing are forgotten")
struct ObjectForgettingTests {
    /// Long enough that no idle timer fires while a test moves the clock.
    static let noSleep: Duration = .seconds(30 * 86_400)

    @Test("an object that ran and stopped is forgotten after object_idle_forget, not before")
    func idleForget() async throws {
        let f = try ControllerFixture(configure: { $0.objectIdleForget = .seconds(600) })
        let object = f.containerClass.getByName("ran")
        try await object.startAndWaitForPorts()
        await object.stop()
        await object.hooksSettled()
        #expect(f.containerClass.objectCount == 1)
        f.time.advance(by: .seconds(599))
        #expect(f.containerClass.forgetIdleObjects() == 0)
        #expect(f.containerClass.existing(object.objectID) === object)
        f.time.advance(by: .seconds(1))
        #expect(f.containerClass.forgetIdleObjects() == 1)
        #expect(f.containerClass.objectCount == 0)
        #expect(f.containerClass.objects.isEmpty)
        #expect(f.containerClass.existing(object.objectID) == nil)
        #expect(f.containerClass.shards.allSatisfy { $0.named.withLock { $0.isEmpty } })
        await f.shutdown()
    }

    @Test("never forgotten while running, serving a request, starting, stopping or with a hook to run")
    func busyKept() async throws {
        let latch = Latch()
        let f = try ControllerFixture(
            sleepAfter: Self.noSleep, configure: { $0.objectIdleForget = .seconds(60) }, hooks: { _ in LatchedStopHooks(latch: latch) }
        )
        let cls = f.containerClass
        let running = cls.getByName("running")
        try await running.startAndWaitForPorts()
        let serving = cls.getByName("serving")
        let lease = try await serving.acquire()
        // Its onStop waits for the latch.
        let hooked = cls.getByName("hooked")
        try await hooked.startAndWaitForPorts()
        await hooked.stop()
        await f.eventually("onStop waiting") { await latch.waiting == 1 }
        // The engine holds both starts; one of them is asked to stop meanwhile.
        f.runtime.holdStarts()
        let starting = cls.getByName("starting")
        let request = Task { try await starting.acquire() }
        let stopping = cls.getByName("stopping")
        let stopped = Task { try? await stopping.startAndWaitForPorts() }
        await f.eventually("both starts held") { f.runtime.heldStartCount == 2 }
        let stop = Task { await stopping.stop() }
        await f.eventually("stopping") { await stopping.status == .stopping }

        f.time.advance(by: .seconds(3600))
        #expect(cls.forgetIdleObjects() == 0)
        #expect(cls.objectCount == 5)
        for object in [running, serving, hooked, starting, stopping] {
            #expect(cls.existing(object.objectID) === object, "\(object.objectID.name ?? "")")
        }

        // Once its hook ran, the stopped one goes after the period, and only it.
        await latch.open()
        await hooked.hooksSettled()
        f.runtime.releaseStarts()
        let started = try await request.value
        await stop.value
        await stopped.value
        f.time.advance(by: .seconds(60))
        cls.forgetIdleObjects()
        #expect(cls.existing(hooked.objectID) == nil)
        #expect(cls.existing(running.objectID) === running)
        #expect(cls.existing(serving.objectID) === serving)
        #expect(cls.existing(starting.objectID) === starting)
        await started.release()
        await lease.release()
        await f.shutdown()
    }

    @Test("beyond max_objects the least recently used idle object is forgotten; a busy one never")
    func leastRecentlyUsed() async throws {
        let f = try ControllerFixture(sleepAfter: Self.noSleep, configure: { $0.maxObjects = 3 })
        let cls = f.containerClass
        func ranAndStopped(_ name: String) async throws -> ContainerController {
            let object = cls.getByName(name)
            try await object.startAndWaitForPorts()
            await object.stop()
            await object.hooksSettled()
            return object
        }
        let busy = cls.getByName("busy")
        try await busy.startAndWaitForPorts()
        f.time.advance(by: .seconds(1))
        let older = try await ranAndStopped("older")
        f.time.advance(by: .seconds(1))
        let newer = try await ranAndStopped("newer")
        f.time.advance(by: .seconds(1))
        // A use: "older" is now the more recently used of the two.
        await older.renewActivityTimeout()
        f.time.advance(by: .seconds(1))

        let fourth = cls.getByName("fourth")
        #expect(cls.objectCount == 3)
        #expect(cls.existing(newer.objectID) == nil)
        for object in [busy, older, fourth] { #expect(cls.existing(object.objectID) === object) }

        f.time.advance(by: .seconds(1))
        let fifth = cls.getByName("fifth")
        #expect(cls.existing(older.objectID) == nil)
        for object in [busy, fourth, fifth] { #expect(cls.existing(object.objectID) === object) }

        // With every other object busy, the class stays over the limit rather than drop one.
        var spec = cls.spec
        spec.settings.maxObjects = 1
        cls.update(spec)
        let sixth = cls.getByName("sixth")
        #expect(cls.objectCount == 2)
        #expect(cls.existing(busy.objectID) === busy)
        #expect(cls.existing(sixth.objectID) === sixth)
        #expect(await busy.status == .healthy)
        await f.shutdown()
    }

    @Test("a forgotten name comes back as a new, cold object that starts again; a stub kept from before follows it")
    func comesBack() async throws {
        let f = try ControllerFixture(configure: { $0.objectIdleForget = .seconds(60) })
        let cls = f.containerClass
        let old = cls.getByName("again")
        try await old.startAndWaitForPorts()
        let first = try #require(await old.instanceID)
        await old.stop()
        await old.hooksSettled()
        f.time.advance(by: .seconds(60))
        #expect(cls.forgetIdleObjects() == 1)

        let new = cls.getByName("again")
        #expect(new !== old)
        #expect(new.objectID == old.objectID)
        #expect(await new.status == .stopped)
        let lease = try await new.acquire()
        #expect(lease.instanceID != first)
        #expect(f.runtime.count("start") == 2)
        await lease.release()
        // The old stub reads and controls the object's controller now.
        #expect(await old.status == .healthy)
        #expect(await old.instanceID == lease.instanceID)
        await old.stop()
        #expect(await new.status == .stopped)
        #expect(cls.objectCount == 1)
        await f.shutdown()
    }

    @Test("an object whose start max_instances refused is forgotten once idle, and the refusal counted")
    func refusedForgotten() async throws {
        let f = try ControllerFixture(maxInstances: 1)
        let cls = f.containerClass
        try await cls.getByName("holder").startAndWaitForPorts()
        for n in 0..<20 {
            let object = cls.getByName("refused-\(n)")
            await #expect {
                _ = try await object.acquire()
            } throws: { error in
                (error as? BerthError)?.code == .capacityExceeded
            }
        }
        await f.eventually("the refused objects forgotten") { cls.objectCount == 1 }
        #expect(cls.refusedStartCount == 20)
        #expect(cls.shards.reduce(0) { $0 + $1.named.withLock { $0.count } } == 1)
        #expect(f.runtime.count("start") == 1)
        await f.shutdown()
    }

    @Test("the recency table: order of use, removal, the oldest first, storage given back")
    func recencyTable() {
        let start = ContinuousClock.now
        var table = RecencyTable<Int, String>()
        for n in 0..<5 { table.insert("v\(n)", for: n, now: start.advanced(by: .seconds(n))) }
        table.touch(1, now: start.advanced(by: .seconds(10)))
        table.remove(3)
        var order: [Int] = []
        table.oldestFirst { key, _, _ in
            order.append(key)
            return true
        }
        #expect(order == [0, 2, 4, 1])
        #expect(table.values == ["v1", "v4", "v2", "v0"])
        #expect(table.count == 4)
        #expect(table[3] == nil && table[2] == "v2")
        for n in 100..<400 { table.insert("x", for: n, now: start) }
        for n in 100..<400 { table.remove(n) }
        #expect(table.count == 4)
        order = []
        table.oldestFirst { key, _, _ in
            order.append(key)
            return key != 4
        }
        #expect(order == [0, 2, 4])
    }
}
