import BerthCore
import Foundation
import Logging
import Synchronization

/// Owns the container of one Durable Object: starts it once however many requests arrive
/// together, waits for its ports, counts requests in flight, stops it after `sleepAfter` of
/// idleness, records crashes, and runs the hooks. One actor per object; its state changes are
/// serialised while the requests it admits are proxied concurrently, outside it.
public actor ContainerController {
    public nonisolated let objectID: ObjectID
    /// The class: its spec, engine, budget and observers are read through it, not copied
    /// into each of its objects (an object that is not running should cost little memory).
    nonisolated let owner: ContainerClass
    public nonisolated var className: String { owner.className }
    /// Told of every request to this object (metrics), if anyone listens.
    public nonisolated var requestObserver: (any RequestObserver)? { owner.requestObserver }
    /// The settings of the current (or last) instance; taken from the class at each start.
    public var settings: ContainerSettings { settingsBox.value }
    private var settingsBox: SettingsBox
    var specBox: SpecBox { owner.specBox }
    var runtime: any ContainerRuntime { owner.runtime }
    var budget: InstanceBudget { owner.budget }
    var probe: ReadinessProbe { owner.probe }
    var observer: (any InstanceObserver)? { owner.observer }
    let hooks: any ContainerHooks
    /// The class's logger with this object's metadata, made when something is logged.
    var logger: Logger {
        var logger = owner.logger
        logger[metadataKey: "object"] = "\(objectID.name ?? objectID.hex)"
        logger[metadataKey: "class"] = "\(owner.className)"
        return logger
    }
    let clock = ContinuousClock()
    /// Admits requests while the container is healthy, without a hop onto this actor.
    nonisolated let gate = WarmGate()
    private var failure: (message: String, at: Date)?

    var machine: ControllerStateMachine
    private var waiters: [CheckedContinuation<Void, any Error>] = []
    private var startError: BerthError?
    private var generations: [Int: Generation] = [:]
    private var nextStartOptions = StartOptions()
    private var idleTask: Task<Void, Never>?

    struct Generation {
        var instanceID: String
        var deploymentID: String
        var fingerprint: String
        var created = Date()
        var instance: RunningInstance?
        var slotHeld = false
        var startTask: Task<Void, Never>?
    }

    init(objectID: ObjectID, containerClass: ContainerClass, hooks: any ContainerHooks) {
        self.objectID = objectID
        self.owner = containerClass
        self.settingsBox = containerClass.specBox.current.settings
        self.hooks = hooks
        self.machine = ControllerStateMachine(now: ContinuousClock().now, sleepAfter: settingsBox.value.sleepAfter)
    }

    // MARK: State

    /// `getState()`.
    public var status: ContainerStatus { machine.status }

    /// The id of the running instance (its `CLOUDFLARE_DEPLOYMENT_ID`), if one runs.
    public var instanceID: String? {
        switch machine.phase {
        case .starting(let g), .healthy(let g), .stopping(let g, _): generations[g]?.instanceID
        case .stopped: nil
        }
    }

    /// The engine id of the running container, if one runs.
    public var containerID: String? {
        switch machine.phase {
        case .starting(let g), .healthy(let g), .stopping(let g, _): generations[g]?.instance?.containerID
        case .stopped: nil
        }
    }

    /// The object's state and instance, for the admin API.
    public func snapshot() -> ObjectSnapshot {
        let generation: Generation? = switch machine.phase {
        case .starting(let g), .healthy(let g), .stopping(let g, _): generations[g]
        case .stopped: nil
        }
        return ObjectSnapshot(
            className: settings.className, objectID: objectID.hex, objectName: objectID.name, state: machine.status.name,
            exitCode: machine.status.exitCode, instanceID: generation?.instanceID, containerID: generation?.instance?.containerID,
            deploymentID: generation?.deploymentID, createdAt: generation?.created, inFlight: machine.inFlight + gate.activity.inFlight,
            failure: failure?.message, failedAt: failure?.at
        )
    }

    /// Serves from a container that already runs: one Berth started before it restarted.
    /// Returns false (and touches nothing) when this object already has an instance.
    public func adopt(_ adopted: AdoptedInstance) -> Bool {
        guard let g = machine.adopt(now: clock.now) else { return false }
        settingsBox = specBox.current.settings
        machine.sleepAfter = settings.sleepAfter
        budget.forceAcquire()
        generations[g] = Generation(
            instanceID: adopted.instanceID, deploymentID: adopted.deploymentID, fingerprint: adopted.fingerprint ?? "",
            created: adopted.created, instance: adopted.instance, slotHeld: true
        )
        watchExit(g, containerID: adopted.instance.containerID)
        scheduleIdleTimer()
        syncGate()
        report(g, .adopted)
        Task { await self.switchToDirect(g) }
        return true
    }

    /// The endpoints to proxy to: the container's own address when it answers from here.
    private func directEndpoints(_ instance: RunningInstance) async -> [Int: Endpoint] {
        await probe.preferDirect(
            instance, checkedPorts: settings.portsToCheck.filter { instance.endpoints[$0] != nil }, pingEndpoint: settings.pingEndpoint
        )
    }

    /// An adopted instance moves to the container's own address once it answers there.
    private func switchToDirect(_ g: Int) async {
        guard let instance = generations[g]?.instance else { return }
        let endpoints = await directEndpoints(instance)
        guard case .healthy(g) = machine.phase, endpoints != instance.endpoints else { return }
        generations[g]?.instance?.endpoints = endpoints
        syncGate()
    }

    /// A rollout step: when the running instance runs something other than the class's
    /// current spec, stops it (stop signal, grace) and starts its replacement, returning once
    /// the replacement answers. Requests arriving meanwhile wait for the replacement.
    /// Returns whether it replaced anything.
    public func rollOver() async throws(BerthError) -> Bool {
        guard case .healthy(let g) = machine.phase, let current = generations[g],
              current.fingerprint != specBox.value.fingerprint || current.deploymentID != specBox.value.deploymentID
        else { return false }
        if current.fingerprint == specBox.value.fingerprint {
            // Same content: the instance joins the new deployment without a restart, and
            // takes its settings that need none (sleepAfter, timeouts).
            generations[g]?.deploymentID = specBox.value.deploymentID
            settingsBox = specBox.current.settings
            machine.sleepAfter = settings.sleepAfter
            scheduleIdleTimer()
            return false
        }
        await stop()
        try await startAndWaitForPorts()
        return true
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
        guard let admitted = gate.admit(port: port, now: ContinuousClock.now) else { return nil }
        return ContainerLease(endpoint: admitted.endpoint, instanceID: admitted.instanceID, controller: self, generation: admitted.generation)
    }

    private func acquireThroughActor(port: Int?) async throws(BerthError) -> ContainerLease {
        let (admission, actions) = machine.requestArrived(now: clock.now)
        perform(actions)
        if admission == .wait {
            do {
                try await withCheckedThrowingContinuation { waiters.append($0) }
            } catch {
                throw error as? BerthError ?? BerthError(.internal, "Failed to start container: \(error)")
            }
            guard case .healthy = machine.phase else {
                throw BerthError(.internal, "Failed to start container: it stopped before the request could be sent")
            }
            machine.waiterAdmitted(now: clock.now)
        }
        guard case .healthy(let g) = machine.phase, let instance = generations[g]?.instance else {
            machine.requestFinished(now: clock.now)
            throw BerthError(.internal, "Failed to start container: no running instance")
        }
        let target = port ?? settings.defaultPort ?? settings.portsToCheck.first
        guard let target, let endpoint = instance.endpoints[target] else {
            machine.requestFinished(now: clock.now)
            let known = instance.endpoints.keys.sorted().map(String.init).joined(separator: ", ")
            throw BerthError(.invalidInput, target == nil
                ? "the container class \(settings.className) has no defaultPort; set one or name a port with switchPort"
                : "port \(target!) of the container is not published (published: \(known)); add it to requiredPorts or EXPOSE it")
        }
        return ContainerLease(endpoint: endpoint, instanceID: generations[g]!.instanceID, controller: self, generation: nil)
    }

    /// A proxied request finished.
    func requestFinished() {
        machine.requestFinished(now: clock.now)
    }

    /// `renewActivityTimeout()`.
    public func renewActivityTimeout() {
        machine.renewActivity(now: clock.now)
    }

    // MARK: Explicit control

    /// `start(options)`: starts the container if none runs, without waiting for its ports.
    public func start(_ options: StartOptions = StartOptions()) {
        nextStartOptions = options
        perform(machine.startRequested())
    }

    /// `startAndWaitForPorts()`: starts if needed and returns once healthy.
    public func startAndWaitForPorts(_ options: StartOptions = StartOptions()) async throws(BerthError) {
        nextStartOptions = options
        let lease = try await acquire()
        await lease.release()
    }

    /// `stop()`: the stop signal, the grace period, then SIGKILL. Returns once stopped.
    public func stop() async {
        perform(machine.stopRequested(kill: false))
        await waitUntilStopped()
    }

    /// `destroy()`: SIGKILL at once. Returns once stopped.
    public func destroy() async {
        perform(machine.stopRequested(kill: true))
        await waitUntilStopped()
    }

    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    private func waitUntilStopped() async {
        switch machine.phase {
        case .stopped: return
        default: await withCheckedContinuation { stopWaiters.append($0) }
        }
    }

    // MARK: Actions

    private func perform(_ actions: [ControllerStateMachine.Action]) {
        for action in actions {
            switch action {
            case .start(let g):
                launchStart(g)
            case .resumeWaiters:
                let resumed = waiters
                waiters = []
                for waiter in resumed { waiter.resume() }
                let hooks = self.hooks
                Task { await hooks.onStart() }
                scheduleIdleTimer()
            case .failWaiters:
                let error = startError ?? BerthError(.internal, "Failed to start container: it stopped while starting")
                startError = nil
                let failed = waiters
                waiters = []
                for waiter in failed { waiter.resume(throwing: error) }
                let hooks = self.hooks
                Task { await hooks.onError(error) }
            case .stop(let g, let kill):
                launchStop(g, kill: kill)
            case .stopped(_, let exitCode, let reason):
                idleTask?.cancel()
                idleTask = nil
                let hooks = self.hooks
                logger.info("container stopped", metadata: ["exit_code": "\(exitCode)", "reason": "\(reason.rawValue)"])
                Task {
                    await hooks.onStop(exitCode: exitCode, reason: reason)
                    if reason == .exit && exitCode != 0 {
                        await hooks.onError(BerthError(.internal, "the container exited with code \(exitCode)"))
                    }
                }
            case .activityExpired(let g):
                let hooks = self.hooks
                let expiredAt = clock.now
                Task {
                    if await hooks.onActivityExpired() { await self.stopIfCurrent(g, expiredAt: expiredAt) }
                }
            }
        }
        syncGate()
        if case .stopped = machine.phase, !stopWaiters.isEmpty {
            let done = stopWaiters
            stopWaiters = []
            for waiter in done { waiter.resume() }
        }
    }

    /// Stops the instance that expired at `expiredAt`, unless a request came or is in flight
    /// since: the gate closes in the same critical section that finds it idle.
    private func stopIfCurrent(_ g: Int, expiredAt: ContinuousClock.Instant) async {
        guard case .healthy(g) = machine.phase, machine.inFlight == 0, machine.lastActivity <= expiredAt,
              gate.closeIfIdle(since: expiredAt)
        else { return }
        logger.info("idle for \(DurationText.format(machine.sleepAfter)); stopping")
        await stop()
    }

    private func launchStart(_ g: Int) {
        let options = nextStartOptions
        nextStartOptions = StartOptions()
        let instanceID = Self.randomHex(32)
        let (spec, settingsBox) = specBox.current
        self.settingsBox = settingsBox
        machine.sleepAfter = settings.sleepAfter
        generations[g] = Generation(instanceID: instanceID, deploymentID: spec.deploymentID, fingerprint: spec.fingerprint)
        report(g, .starting)
        generations[g]?.startTask = Task { await self.runStart(g, instanceID: instanceID, options: options) }
    }

    private func runStart(_ g: Int, instanceID: String, options: StartOptions) async {
        let started = clock.now
        if let reason = specBox.value.disabledReason {
            startError = BerthError(.unavailable, reason)
            report(g, .failed(message: reason))
            generations[g] = nil
            perform(machine.startFailed(generation: g))
            return
        }
        guard budget.tryAcquire() else {
            startError = BerthError(
                .capacityExceeded,
                "There is no Container instance available at this time. This is likely because you have reached your max concurrent instance count (max_instances = \(budget.limit) for \(settings.className)); try again shortly."
            )
            generations[g] = nil
            perform(machine.startFailed(generation: g))
            return
        }
        generations[g]?.slotHeld = true
        let spec = makeSpec(instanceID: instanceID, deploymentID: generations[g]?.deploymentID ?? "", fingerprint: generations[g]?.fingerprint ?? "", options: options)
        let instance: RunningInstance
        do {
            let runtime = self.runtime
            instance = try await withDeadline(settings.instanceGetTimeout, "getting a container instance") {
                try await runtime.startInstance(spec)
            }
        } catch {
            // A start cut off by the deadline may still have created the container.
            for leftover in (try? await runtime.listInstances(labels: ["\(BerthLabel.instance)=\(instanceID)"])) ?? [] {
                await runtime.removeInstance(leftover.containerID)
            }
            releaseSlot(g)
            generations[g] = nil
            fail(g, BerthError.wrap(error))
            return
        }
        generations[g]?.instance = instance
        watchExit(g, containerID: instance.containerID)
        if case .stopping(g, _) = machine.phase {
            launchStop(g, kill: true)
            return
        }
        do {
            for port in settings.portsToCheck {
                guard let endpoint = instance.endpoints[port] else { continue }
                try await probe.waitUntilReady(endpoint, containerPort: port, pingEndpoint: settings.pingEndpoint, timeout: settings.portReadyTimeout)
            }
        } catch {
            fail(g, BerthError.wrap(error))
            // The exit watcher sees the removal and frees the slot.
            await runtime.removeInstance(instance.containerID)
            return
        }
        generations[g]?.instance?.endpoints = await directEndpoints(instance)
        let elapsed = started.duration(to: clock.now)
        logger.info("container healthy", metadata: ["instance": "\(instanceID)", "cold_start_ms": "\(elapsed.milliseconds)"])
        failure = nil
        report(g, .healthy(coldStart: elapsed))
        perform(machine.startSucceeded(generation: g, now: clock.now))
    }

    private func fail(_ g: Int, _ error: BerthError) {
        let message = error.message.hasPrefix("Failed to start container") || error.code == .capacityExceeded
            ? error.message : "Failed to start container: \(error.message)"
        startError = BerthError(error.code == .capacityExceeded ? .capacityExceeded : .internal, message, cause: error)
        logger.warning("start failed", metadata: ["error": "\(message)"])
        if error.code != .capacityExceeded { failure = (message, Date()) }
        report(g, .failed(message: message))
        perform(machine.startFailed(generation: g))
    }

    private func watchExit(_ g: Int, containerID: String) {
        let runtime = self.runtime
        Task {
            let code = (try? await runtime.waitForExit(containerID)) ?? -1
            await self.containerGone(g, exitCode: code)
        }
    }

    private func containerGone(_ g: Int, exitCode: Int) async {
        if let id = generations[g]?.instance?.containerID { await runtime.removeInstance(id) }
        let byItself: Bool = switch machine.phase {
        case .healthy(g), .starting(g): true
        default: false
        }
        if byItself && exitCode != 0 { failure = ("the container exited with code \(exitCode)", Date()) }
        report(g, .stopped(exitCode: exitCode, reason: byItself ? .exit : .runtimeSignal))
        releaseSlot(g)
        generations[g]?.startTask?.cancel()
        generations[g] = nil
        perform(machine.containerExited(generation: g, exitCode: exitCode))
    }

    private func releaseSlot(_ g: Int) {
        guard generations[g]?.slotHeld == true else { return }
        generations[g]?.slotHeld = false
        budget.release()
    }

    private func launchStop(_ g: Int, kill: Bool) {
        // Without a container yet, runStart stops it as soon as it exists.
        guard let id = generations[g]?.instance?.containerID else { return }
        generations[g]?.startTask?.cancel()
        let runtime = self.runtime
        let grace = settings.stopGracePeriod
        Task {
            if kill {
                try? await runtime.killInstance(id)
            } else {
                do {
                    try await runtime.stopInstance(id, signal: "SIGTERM", grace: grace)
                } catch {
                    try? await runtime.killInstance(id)
                }
            }
        }
    }

    private func scheduleIdleTimer() {
        idleTask?.cancel()
        idleTask = Task { [clock] in
            while !Task.isCancelled {
                guard let wake = await self.idleCheck() else { return }
                try? await Task.sleep(until: wake, clock: clock)
            }
        }
    }

    /// Fires the idle timer if due; returns when to look again, or nil to stop looking.
    private func idleCheck() -> ContinuousClock.Instant? {
        guard case .healthy = machine.phase else { return nil }
        let warm = gate.activity
        if let last = warm.lastActivity { machine.noteActivity(at: last) }
        if warm.inFlight > 0 { return clock.now.advanced(by: machine.sleepAfter) }
        perform(machine.idleTimerFired(now: clock.now))
        return machine.idleDeadline ?? clock.now.advanced(by: machine.sleepAfter)
    }

    /// Opens the gate while the container is healthy, closes it otherwise.
    private func syncGate() {
        if case .healthy(let g) = machine.phase, let generation = generations[g], let instance = generation.instance {
            gate.open(.init(
                generation: g, instanceID: generation.instanceID, endpoints: instance.endpoints,
                defaultPort: settings.defaultPort ?? settings.portsToCheck.first
            ))
        } else {
            gate.close()
        }
    }

    private func report(_ g: Int, _ event: InstanceEvent) {
        guard let observer, let generation = generations[g] else { return }
        observer.instance(InstanceRecord(
            className: settings.className, objectID: objectID.hex, objectName: objectID.name, instanceID: generation.instanceID,
            containerID: generation.instance?.containerID, deploymentID: generation.deploymentID, at: Date()
        ), event)
    }

    private func makeSpec(instanceID: String, deploymentID: String, fingerprint: String, options: StartOptions) -> InstanceSpec {
        let applicationID = ObjectID.fromName(settings.containerName, className: "application", app: settings.app).hex
        var environment = settings.envVars.merging(options.envVars) { $1 }
        let platform: [String: String] = [
            "DEPLOYMENT_ID": instanceID, "DURABLE_OBJECT_ID": objectID.hex, "APPLICATION_ID": applicationID,
            "LOCATION": settings.location, "REGION": settings.location, "COUNTRY_A2": "XX",
        ]
        for (key, value) in platform {
            environment["CLOUDFLARE_\(key)"] = value
        }
        environment["BERTH_INSTANCE_ID"] = instanceID
        environment["BERTH_OBJECT_ID"] = objectID.hex
        environment["BERTH_APPLICATION_ID"] = applicationID
        environment["BERTH_LOCATION"] = settings.location
        environment["BERTH_REGION"] = settings.location
        if let name = objectID.name { environment["BERTH_OBJECT_NAME"] = name }
        var labels = settings.labels.merging(options.labels) { $1 }
        labels[BerthLabel.app] = settings.app
        labels[BerthLabel.className] = settings.className
        labels[BerthLabel.object] = objectID.hex
        labels[BerthLabel.instance] = instanceID
        labels[BerthLabel.deployment] = deploymentID
        labels[BerthLabel.fingerprint] = fingerprint
        if let name = objectID.name { labels[BerthLabel.objectName] = name }
        let ports = Array(Set(settings.portsToCheck + settings.exposedPorts + (settings.defaultPort.map { [$0] } ?? []))).sorted()
        return InstanceSpec(
            image: settings.image, environment: environment, entrypoint: options.entrypoint ?? settings.entrypoint,
            labels: labels, ports: ports, enableInternet: options.enableInternet ?? settings.enableInternet,
            memoryBytes: Int64(settings.instanceType.memoryMiB) << 20,
            nanoCPUs: Int64(settings.instanceType.vcpu * 1_000_000_000)
        )
    }

    static func randomHex(_ count: Int) -> String {
        Hex.random(bytes: count / 2)
    }
}
