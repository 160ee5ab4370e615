import BerthCore
import Foundation
import Logging
import Synchronization

/// Owns the container of one Durable Object: starts it once however many requests arrive
/// together, waits for its ports, counts requests in flight, stops it after `sleepAfter` of
/// idleness, records crashes, and runs the hooks. One actor per object; its state changes are
/// serialised while the requests it admits are proxied concurrently, outside it.
///
/// Its state is a ``ControllerStateMachine`` whose phases own the instance; the actor feeds
/// it events (engine results come back from their tasks as calls on the actor) and performs
/// the actions it returns.
public actor ContainerController {
    public nonisolated let objectID: ObjectID
    /// The class: its spec, engine, budget, clock and observers are read through it, not
    /// copied into each of its objects (an object that is not running should cost little memory).
    public nonisolated let owner: ContainerClass
    public nonisolated var className: String { owner.className }
    /// Told of every request to this object (metrics), if anyone listens.
    public nonisolated var requestObserver: (any RequestObserver)? { owner.requestObserver }
    /// The settings of the current (or last) instance; taken from the class at each start.
    public var settings: ContainerSettings { (machine.phase.instance?.launch.settings ?? lastSettings).value }
    /// The settings of the last instance, kept once it is gone.
    var lastSettings: SettingsBox
    var specBox: SpecBox { owner.specBox }
    var runtime: any ContainerRuntime { owner.runtime }
    var budget: InstanceBudget { owner.budget }
    var probe: ReadinessProbe { owner.probe }
    var observer: (any InstanceObserver)? { owner.observer }
    nonisolated var clock: BerthClock { owner.clock }
    nonisolated let hooks: any ContainerHooks
    /// The class's logger with this object's metadata, made when something is logged.
    var logger: Logger {
        var logger = owner.logger
        logger[metadataKey: "object"] = "\(objectID.name ?? objectID.hex)"
        logger[metadataKey: "class"] = "\(owner.className)"
        return logger
    }
    /// Admits requests while the container is healthy, without a hop onto this actor.
    nonisolated let gate = WarmGate()
    /// The WebSockets open to this object's container, closed with 1001 when it stops.
    public nonisolated let sockets: OpenSockets
    var failure: (message: String, at: Date)?

    var machine: ControllerStateMachine
    var waiters: [CheckedContinuation<Void, any Error>] = []
    var stopWaiters: [CheckedContinuation<Void, Never>] = []
    /// Why the current start failed, for the waiters it fails.
    var startError: BerthError?
    var nextStartOptions = StartOptions()
    /// The generation whose start was asked with options of its own (`start({ env })`): its
    /// container is not parked for the next start, which may ask for other options.
    var customStartGeneration: Int?
    /// The readiness probe of the starting instance, cancelled when it stops.
    var probeTask: Task<Void, Never>?
    var idleTask: Task<Void, Never>?
    /// Hook calls not yet made, in order, and the task making them (while there are any).
    var hookEvents: [HookEvent] = []
    var hookDrainer: Task<Void, Never>?
    /// Starts given up on whose container is still being removed.
    var discarding = 0
    /// Whether a container ever ran for this controller (an object that never had one
    /// remembers nothing worth keeping).
    var hadContainer = false
    /// What it holds and the calls in progress, for its class to decide whether it may be
    /// forgotten (``ContainerController/Presence``).
    nonisolated let presence = Mutex(Presence())
    /// Set once forgotten, read without the lock by lookups.
    nonisolated let retiredFlag = Atomic(false)

    init(objectID: ObjectID, containerClass: ContainerClass, hooks: any ContainerHooks) {
        self.objectID = objectID
        self.owner = containerClass
        self.lastSettings = containerClass.specBox.current.settings
        self.hooks = hooks
        self.sockets = OpenSockets(classCount: containerClass.openSockets)
        self.machine = ControllerStateMachine(now: containerClass.clock.now, sleepAfter: lastSettings.value.sleepAfter)
    }

    // MARK: State

    /// `getState()`.
    public var status: ContainerStatus {
        get async {
            if isRetired, let current = existingSuccessor() { return await current.status }
            return machine.status
        }
    }

    /// The id of the running instance (its `CLOUDFLARE_DEPLOYMENT_ID`), if one runs.
    public var instanceID: String? {
        get async {
            if isRetired, let current = existingSuccessor() { return await current.instanceID }
            return machine.phase.instance?.launch.instanceID
        }
    }

    /// The engine id of the running container, if one runs.
    public var containerID: String? {
        get async {
            if isRetired, let current = existingSuccessor() { return await current.containerID }
            return machine.phase.instance?.running?.containerID
        }
    }

    /// The object's state and instance, for the admin API.
    public func snapshot() async -> ObjectSnapshot {
        if isRetired, let current = existingSuccessor() { return await current.snapshot() }
        let instance = machine.phase.instance
        return ObjectSnapshot(
            className: settings.className, objectID: objectID.hex, objectName: objectID.name, state: machine.status.name,
            exitCode: machine.status.exitCode, instanceID: instance?.launch.instanceID, containerID: instance?.running?.containerID,
            deploymentID: instance?.launch.deploymentID, createdAt: instance?.launch.created,
            inFlight: machine.inFlight + gate.activity.inFlight, webSockets: sockets.count, failure: failure?.message, failedAt: failure?.at
        )
    }

    // MARK: Requests

    /// Makes sure the container is healthy (starting it if needed, once however many callers
    /// arrive together) and admits one request to `port`. Release the lease when the
    /// response has been sent.
    ///
    /// A healthy container admits through the ``WarmGate`` (one lock of this object's, no
    /// actor hop); anything else (a start, a wait, an error) goes through the actor.
    public nonisolated func acquire(port: Int? = nil) async throws(BerthError) -> ContainerLease {
        if let lease = tryAcquireWarm(port: port) { return lease }
        return try await acquireThroughActor(port: port)
    }

    /// A lease when the container is healthy and `port` is published, else nil. Never waits.
    public nonisolated func tryAcquireWarm(port: Int? = nil) -> ContainerLease? {
        guard let admitted = gate.admit(port: port, now: clock.now) else { return nil }
        return ContainerLease(endpoint: admitted.endpoint, instanceID: admitted.instanceID, controller: self, generation: admitted.generation)
    }

    private func acquireThroughActor(port: Int?) async throws(BerthError) -> ContainerLease {
        guard enter() else { return try await successor().acquire(port: port) }
        defer { leave() }
        if let refusal = backoffRefusal() { throw refusal }
        let (admission, actions) = machine.requestArrived(now: clock.now, launch: nextLaunch())
        if admission == .wait {
            do {
                // Waiting before the actions run: a start can fail before it suspends.
                try await withCheckedThrowingContinuation { waiter in
                    waiters.append(waiter)
                    perform(actions)
                }
            } catch {
                throw error as? BerthError ?? BerthError(.startFailed, "Failed to start container: \(error)")
            }
            guard case .healthy = machine.phase else {
                throw BerthError(.startFailed, "Failed to start container: it stopped before the request could be sent")
            }
            machine.waiterAdmitted(now: clock.now)
        } else {
            perform(actions)
        }
        guard case .healthy(let instance) = machine.phase, let running = instance.running else {
            machine.requestFinished(now: clock.now)
            throw BerthError(.startFailed, "Failed to start container: no running instance")
        }
        let target = port ?? settings.defaultPort ?? settings.portsToCheck.first
        guard let target, let endpoint = running.endpoints[target] else {
            machine.requestFinished(now: clock.now)
            let known = running.endpoints.keys.sorted().map(String.init).joined(separator: ", ")
            throw BerthError(.invalidInput, target == nil
                ? "the container class \(settings.className) has no defaultPort; set one or name a port with switchPort"
                : "port \(target!) of the container is not published (published: \(known)); add it to requiredPorts or EXPOSE it")
        }
        return ContainerLease(endpoint: endpoint, instanceID: instance.launch.instanceID, controller: self, generation: nil)
    }

    /// A proxied request finished.
    func requestFinished() {
        machine.requestFinished(now: clock.now)
    }

    /// `renewActivityTimeout()`.
    public func renewActivityTimeout() async {
        guard enter() else {
            await existingSuccessor()?.renewActivityTimeout()
            return
        }
        defer { leave() }
        machine.renewActivity(now: clock.now)
    }

    // MARK: Explicit control

    /// `start(options)`: starts the container if none runs, without waiting for its ports.
    public func start(_ options: StartOptions = StartOptions()) async {
        guard enter() else { return await successor().start(options) }
        defer { leave() }
        if let refusal = backoffRefusal() {
            logger.info("start not attempted", metadata: ["reason": "\(refusal.message)"])
            return
        }
        nextStartOptions = options
        perform(machine.startRequested(launch: nextLaunch()))
    }

    /// `startAndWaitForPorts()`: starts if needed and returns once healthy.
    public func startAndWaitForPorts(_ options: StartOptions = StartOptions()) async throws(BerthError) {
        guard enter() else { return try await successor().startAndWaitForPorts(options) }
        defer { leave() }
        nextStartOptions = options
        let lease = try await acquire()
        await lease.release()
    }

    /// `stop()`: the stop signal, the grace period, then SIGKILL. Returns once stopped.
    public func stop() async {
        guard enter() else {
            await existingSuccessor()?.stop()
            return
        }
        defer { leave() }
        perform(machine.stopRequested(kill: false))
        await waitUntilStopped()
    }

    /// `destroy()`: SIGKILL at once. Returns once stopped.
    public func destroy() async {
        guard enter() else {
            await existingSuccessor()?.destroy()
            return
        }
        defer { leave() }
        perform(machine.stopRequested(kill: true))
        await waitUntilStopped()
    }

    private func waitUntilStopped() async {
        switch machine.phase {
        case .stopped: return
        default: await withCheckedContinuation { stopWaiters.append($0) }
        }
    }

    // MARK: Actions

    /// Performs what the machine asked for, in order; then opens or closes the gate and
    /// resumes `stop()` callers once stopped.
    func perform(_ actions: [ControllerStateMachine.Action]) {
        for action in actions {
            switch action {
            case .start(let g):
                launchStart(g)
            case .probe(let g):
                launchProbe(g)
            case .resumeWaiters:
                let resumed = waiters
                waiters = []
                for waiter in resumed { waiter.resume() }
                // An adopted container started before Berth restarted: no second onStart.
                if machine.phase.instance?.adopted != true { enqueueHook(.start) }
                scheduleIdleTimer()
            case .failWaiters:
                let error = startError ?? BerthError(.startFailed, "Failed to start container: it stopped while starting")
                startError = nil
                let failed = waiters
                waiters = []
                for waiter in failed { waiter.resume(throwing: error) }
                enqueueHook(.error(error))
            case .stop(let g, let kill):
                // Its clients get a close frame from Berth before the container goes.
                if let instanceID = machine.instance(g)?.launch.instanceID {
                    sockets.goAway(instanceID: instanceID, code: 1001, reason: "the container is stopping")
                }
                launchStop(g, kill: kill)
            case .stopped(_, let exitCode, let reason):
                idleTask?.cancel()
                idleTask = nil
                logger.info("container stopped", metadata: ["exit_code": "\(exitCode)", "reason": "\(reason.rawValue)"])
                enqueueHook(.stop(exitCode: exitCode, reason: reason))
                if reason == .exit && exitCode != 0 {
                    enqueueHook(.error(BerthError(.internal, "the container exited with code \(exitCode)")))
                }
            case .releaseSlot:
                budget.release()
            case .discard(let instance):
                discard(instance)
            case .activityExpired(let g):
                enqueueHook(.activityExpired(generation: g, at: clock.now))
            }
        }
        syncGate()
        if case .stopped = machine.phase, !stopWaiters.isEmpty {
            let done = stopWaiters
            stopWaiters = []
            for waiter in done { waiter.resume() }
        }
        settle()
    }

    /// Opens the gate while the container is healthy, closes it otherwise.
    func syncGate() {
        if case .healthy(let instance) = machine.phase, let running = instance.running {
            gate.open(.init(
                generation: instance.generation, instanceID: instance.launch.instanceID, endpoints: running.endpoints,
                defaultPort: settings.defaultPort ?? settings.portsToCheck.first
            ))
        } else {
            gate.close()
        }
    }

    /// Tells the observer what happened to `instance`.
    func report(_ instance: ControllerStateMachine.Instance, _ event: InstanceEvent) {
        guard let observer else { return }
        observer.instance(InstanceRecord(
            className: instance.launch.settings.value.className, objectID: objectID.hex, objectName: objectID.name,
            instanceID: instance.launch.instanceID, containerID: instance.running?.containerID,
            deploymentID: instance.launch.deploymentID, at: Date()
        ), event)
    }
}
