import BerthCore

/// The lifecycle of one object's container as a pure value: events in, actions out.
///
/// The ``ContainerController`` actor feeds it events (a request arrived, the engine created
/// the container, its ports answered, it exited, the idle timer fired…) with the current
/// time, and performs the actions it returns. Each phase owns its ``Instance``: who it is, its
/// container and endpoints, whether it holds a `max_instances` slot; an instance leaves the
/// machine only through an action that hands it (or its slot) back. It does no I/O and reads
/// no clock, so every transition is tested without an engine.
struct ControllerStateMachine {
    typealias Instant = ContinuousClock.Instant

    enum Action: Equatable {
        /// Take a slot, create and start a container.
        case start(generation: Int)
        /// The container runs: wait for its ports.
        case probe(generation: Int)
        /// The start succeeded: let the waiting requests through, run onStart.
        case resumeWaiters
        /// The start failed: fail the waiting requests, run onError.
        case failWaiters
        /// Stop the container (SIGTERM, grace, SIGKILL) or kill it at once.
        case stop(generation: Int, kill: Bool)
        /// The container is gone: run onStop.
        case stopped(generation: Int, exitCode: Int, reason: StopReason)
        /// Give back the `max_instances` slot of an instance whose container is gone.
        case releaseSlot(generation: Int)
        /// A start given up on: remove its container if it has one, then give back its slot.
        case discard(Instance)
        /// Idle for `sleepAfter`: run onActivityExpired.
        case activityExpired(generation: Int)
    }

    /// What a request should do after `requestArrived`.
    enum Admission: Equatable {
        /// The container is healthy: proxy now.
        case proceed
        /// Wait for the start in progress.
        case wait
    }

    private(set) var phase: Phase = .stopped(exitCode: nil)
    private(set) var generation = 0
    /// Requests being proxied now.
    private(set) var inFlight = 0
    /// The last time a request started or finished.
    private(set) var lastActivity: Instant
    var sleepAfter: Duration

    init(now: Instant, sleepAfter: Duration) {
        lastActivity = now
        self.sleepAfter = sleepAfter
    }

    var status: ContainerStatus {
        switch phase {
        case .stopped(let code?): .stoppedWithCode(code)
        case .stopped(nil): .stopped
        case .starting: .running
        case .healthy: .healthy
        case .stopping: .stopping
        }
    }

    /// When the idle timer should fire next, if it should.
    var idleDeadline: Instant? {
        guard case .healthy = phase, inFlight == 0 else { return nil }
        return lastActivity.advanced(by: sleepAfter)
    }

    /// The instance of `generation` when the current phase owns it.
    func instance(_ generation: Int) -> Instance? {
        phase.instance.flatMap { $0.generation == generation ? $0 : nil }
    }

    // MARK: Requests

    /// A request wants the container. Starts one as `launch` says when nothing runs.
    mutating func requestArrived(now: Instant, launch: @autoclosure () -> Launch) -> (Admission, [Action]) {
        lastActivity = now
        switch phase {
        case .healthy:
            inFlight += 1
            return (.proceed, [])
        case .starting:
            return (.wait, [])
        case .stopping(let instance, _):
            phase = .stopping(instance, restart: true)
            return (.wait, [])
        case .stopped:
            return (.wait, [beginStart(launch())])
        }
    }

    /// A waiting request was let through after a successful start.
    mutating func waiterAdmitted(now: Instant) {
        inFlight += 1
        lastActivity = now
    }

    /// A proxied request finished (its response was sent, or it failed).
    mutating func requestFinished(now: Instant) {
        inFlight = max(0, inFlight - 1)
        lastActivity = now
    }

    /// Activity seen elsewhere (the warm gate) at `instant`; never moves the clock back.
    mutating func noteActivity(at instant: Instant) {
        lastActivity = max(lastActivity, instant)
    }

    /// `renewActivityTimeout()`: counts as activity.
    mutating func renewActivity(now: Instant) {
        lastActivity = now
    }

    /// The idle timer woke up. Expires only when nothing is in flight and `sleepAfter` has
    /// passed since the last activity.
    mutating func idleTimerFired(now: Instant) -> [Action] {
        guard case .healthy(let instance) = phase, inFlight == 0, let deadline = idleDeadline, now >= deadline else {
            return []
        }
        // Renew, so that an onActivityExpired that does not stop is asked again later.
        lastActivity = now
        return [.activityExpired(generation: instance.generation)]
    }

    // MARK: Starting

    /// An explicit `start()` with no request attached.
    mutating func startRequested(launch: @autoclosure () -> Launch) -> [Action] {
        guard case .stopped = phase else { return [] }
        return [beginStart(launch())]
    }

    private mutating func beginStart(_ launch: Launch) -> Action {
        generation += 1
        phase = .starting(Instance(generation: generation, launch: launch))
        return .start(generation: generation)
    }

    /// A container that already runs (found on the engine after a restart of Berth) becomes
    /// this object's instance, starting until its ports answer as a fresh one's do (the
    /// caller probes them); `slotHeld` when it was counted in `max_instances`. Only from
    /// `stopped`; returns its generation.
    mutating func adopt(now: Instant, launch: Launch, running: RunningInstance, slotHeld: Bool) -> Int? {
        guard case .stopped = phase else { return nil }
        generation += 1
        phase = .starting(Instance(generation: generation, launch: launch, running: running, slotHeld: slotHeld, adopted: true))
        lastActivity = now
        return generation
    }

    /// The ports of the adopted instance of `generation` never answered: it is discarded, and
    /// when requests wait (`restart`) a fresh start begins, which they wait for.
    mutating func adoptionFailed(generation: Int, restart: Bool, launch: @autoclosure () -> Launch) -> [Action] {
        guard case .starting(let instance) = phase, instance.generation == generation, instance.adopted else { return [] }
        phase = .stopped(exitCode: nil)
        var actions = Self.discarding(instance)
        if restart { actions.append(beginStart(launch())) }
        return actions
    }

    /// The start of `generation` took a `max_instances` slot. False when that start is no
    /// longer current: the caller gives the slot back.
    mutating func slotAcquired(generation: Int) -> Bool {
        guard case .starting(var instance) = phase, instance.generation == generation else { return false }
        instance.slotHeld = true
        phase = .starting(instance)
        return true
    }

    /// The engine created and started the container of `generation`.
    mutating func instanceCreated(generation: Int, running: RunningInstance) -> [Action] {
        switch phase {
        case .starting(var instance) where instance.generation == generation:
            instance.running = running
            phase = .starting(instance)
            return [.probe(generation: generation)]
        case .stopping(var instance, let restart) where instance.generation == generation:
            // Stopped before the container existed: it goes at once.
            instance.running = running
            phase = .stopping(instance, restart: restart)
            return [.stop(generation: generation, kill: true)]
        default:
            return []
        }
    }

    /// The ports of `generation` answered; requests go to `endpoints`.
    mutating func startSucceeded(generation: Int, endpoints: [Int: Endpoint], now: Instant) -> [Action] {
        switch phase {
        case .starting(var instance) where instance.generation == generation:
            guard instance.running != nil else { return [] }
            instance.running?.endpoints = endpoints
            phase = .healthy(instance)
            lastActivity = now
            return [.resumeWaiters]
        case .stopping(let instance, _) where instance.generation == generation:
            // Stopped while starting (destroy, shutdown): the exit event finishes the job.
            return [.failWaiters]
        default:
            return []
        }
    }

    /// The start of `generation` failed: the engine refused, the ports never answered, or
    /// no slot was free. Requests that arrived while it was being stopped start `launch`.
    mutating func startFailed(generation: Int, launch: @autoclosure () -> Launch) -> [Action] {
        switch phase {
        case .starting(let instance) where instance.generation == generation:
            phase = .stopped(exitCode: nil)
            return Self.discarding(instance) + [.failWaiters]
        case .stopping(let instance, _) where instance.generation == generation && instance.running != nil:
            // Its container was told to stop: its exit finishes the job.
            return []
        case .stopping(let instance, let restart) where instance.generation == generation:
            // Stopped while starting, and the start gave up: nothing is left to stop. Requests
            // that arrived meanwhile get a new start.
            phase = .stopped(exitCode: nil)
            var actions = Self.discarding(instance)
            if restart { actions.append(beginStart(launch())) }
            return actions
        default:
            return []
        }
    }

    private static func discarding(_ instance: Instance) -> [Action] {
        instance.running != nil || instance.slotHeld ? [.discard(instance)] : []
    }

    // MARK: Running

    /// A rollout whose content is the same: the healthy instance joins `deploymentID` and
    /// takes its settings without a restart.
    mutating func joinDeployment(_ deploymentID: String, settings: SettingsBox) {
        guard case .healthy(var instance) = phase else { return }
        instance.launch.deploymentID = deploymentID
        instance.launch.settings = settings
        phase = .healthy(instance)
    }

    // MARK: Stopping

    /// `stop()` (graceful) or `destroy()` (kill).
    mutating func stopRequested(kill: Bool) -> [Action] {
        switch phase {
        case .starting(let instance):
            // Requests waiting for this start will not get it.
            phase = .stopping(instance, restart: false)
            return [.failWaiters, .stop(generation: instance.generation, kill: kill)]
        case .healthy(let instance):
            phase = .stopping(instance, restart: false)
            return [.stop(generation: instance.generation, kill: kill)]
        case .stopping(let instance, _):
            return kill ? [.stop(generation: instance.generation, kill: true)] : []
        case .stopped:
            return []
        }
    }

    /// The container of `generation` exited with `exitCode` and was removed. Requests that
    /// arrived while it was being stopped start `launch`.
    mutating func containerExited(generation: Int, exitCode: Int, launch: @autoclosure () -> Launch) -> [Action] {
        guard let instance = instance(generation) else { return [] }
        let release: [Action] = instance.slotHeld ? [.releaseSlot(generation: generation)] : []
        switch phase {
        case .healthy:
            // On its own: a crash, or a normal exit. Requests in flight fail at the proxy.
            phase = .stopped(exitCode: exitCode)
            inFlight = 0
            return [.stopped(generation: generation, exitCode: exitCode, reason: .exit)] + release
        case .starting:
            // Exited before its ports answered: the waiting requests fail.
            phase = .stopped(exitCode: exitCode)
            return [.failWaiters, .stopped(generation: generation, exitCode: exitCode, reason: .exit)] + release
        case .stopping(_, let restart):
            phase = .stopped(exitCode: nil)
            inFlight = 0
            var actions: [Action] = [.stopped(generation: generation, exitCode: exitCode, reason: .runtimeSignal)] + release
            if restart { actions.append(beginStart(launch())) }
            return actions
        case .stopped:
            return []
        }
    }
}
