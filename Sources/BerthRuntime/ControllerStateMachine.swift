/// The lifecycle of one object's container as a pure value: events in, actions out.
///
/// The ``ContainerController`` actor feeds it events (a request arrived, the start finished,
/// the container exited, the idle timer fired…) with the current time, and performs the
/// actions it returns. It does no I/O and reads no clock, so every transition is tested
/// without an engine.
struct ControllerStateMachine {
    typealias Instant = ContinuousClock.Instant

    enum Phase: Equatable {
        /// No container. `exitCode` is set when the last one exited on its own.
        case stopped(exitCode: Int?)
        /// Creating, starting, waiting for the ports. `generation` names this attempt.
        case starting(generation: Int)
        case healthy(generation: Int)
        /// Stop requested; `restart` when requests arrived meanwhile and need a new instance.
        case stopping(generation: Int, restart: Bool)
    }

    enum Action: Equatable {
        /// Create and start a container and wait for its ports.
        case start(generation: Int)
        /// The start succeeded: let the waiting requests through, run onStart.
        case resumeWaiters
        /// The start failed: fail the waiting requests, run onError, clean up.
        case failWaiters
        /// Stop the container (SIGTERM, grace, SIGKILL) or kill it at once.
        case stop(generation: Int, kill: Bool)
        /// The container is gone: run onStop, free its slot, remove it.
        case stopped(generation: Int, exitCode: Int, reason: StopReason)
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

    // MARK: Events

    /// A request wants the container. Starts it when nothing runs.
    mutating func requestArrived(now: Instant) -> (Admission, [Action]) {
        lastActivity = now
        switch phase {
        case .healthy:
            inFlight += 1
            return (.proceed, [])
        case .starting:
            return (.wait, [])
        case .stopping(let generation, _):
            phase = .stopping(generation: generation, restart: true)
            return (.wait, [])
        case .stopped:
            return (.wait, [beginStart()])
        }
    }

    /// A waiting request was let through after a successful start.
    mutating func waiterAdmitted(now: Instant) {
        inFlight += 1
        lastActivity = now
    }

    /// An explicit `start()` with no request attached.
    mutating func startRequested() -> [Action] {
        guard case .stopped = phase else { return [] }
        return [beginStart()]
    }

    private mutating func beginStart() -> Action {
        generation += 1
        phase = .starting(generation: generation)
        return .start(generation: generation)
    }

    /// A container that already runs (found on the engine after a restart of Berth) becomes
    /// this object's healthy instance. Only from `stopped`; returns its generation.
    mutating func adopt(now: Instant) -> Int? {
        guard case .stopped = phase else { return nil }
        generation += 1
        phase = .healthy(generation: generation)
        lastActivity = now
        return generation
    }

    mutating func startSucceeded(generation: Int, now: Instant) -> [Action] {
        switch phase {
        case .starting(generation):
            phase = .healthy(generation: generation)
            lastActivity = now
            return [.resumeWaiters]
        case .stopping(generation, _):
            // Stopped while starting (destroy, shutdown): the exit event finishes the job.
            return [.failWaiters]
        default:
            return []
        }
    }

    mutating func startFailed(generation: Int) -> [Action] {
        switch phase {
        case .starting(generation):
            phase = .stopped(exitCode: nil)
            return [.failWaiters]
        case .stopping(generation, let restart):
            // Stopped while starting, and the start gave up: nothing is left to stop. Requests
            // that arrived meanwhile get a new start.
            phase = .stopped(exitCode: nil)
            return restart ? [beginStart()] : []
        default:
            return []
        }
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
        guard case .healthy(let generation) = phase, inFlight == 0, let deadline = idleDeadline, now >= deadline else {
            return []
        }
        // Renew, so that an onActivityExpired that does not stop is asked again later.
        lastActivity = now
        return [.activityExpired(generation: generation)]
    }

    /// `stop()` (graceful) or `destroy()` (kill).
    mutating func stopRequested(kill: Bool) -> [Action] {
        switch phase {
        case .starting(let generation):
            // Requests waiting for this start will not get it.
            phase = .stopping(generation: generation, restart: false)
            return [.failWaiters, .stop(generation: generation, kill: kill)]
        case .healthy(let generation):
            phase = .stopping(generation: generation, restart: false)
            return [.stop(generation: generation, kill: kill)]
        case .stopping(let generation, _):
            return kill ? [.stop(generation: generation, kill: true)] : []
        case .stopped:
            return []
        }
    }

    /// The container of `generation` exited with `exitCode`.
    mutating func containerExited(generation: Int, exitCode: Int) -> [Action] {
        switch phase {
        case .healthy(generation):
            // On its own: a crash, or a normal exit. Requests in flight fail at the proxy.
            phase = .stopped(exitCode: exitCode)
            inFlight = 0
            return [.stopped(generation: generation, exitCode: exitCode, reason: .exit)]
        case .starting(generation):
            // Exited before its ports answered: the waiting requests fail.
            phase = .stopped(exitCode: exitCode)
            return [.failWaiters, .stopped(generation: generation, exitCode: exitCode, reason: .exit)]
        case .stopping(generation, let restart):
            phase = .stopped(exitCode: nil)
            inFlight = 0
            var actions: [Action] = [.stopped(generation: generation, exitCode: exitCode, reason: .runtimeSignal)]
            if restart { actions.append(beginStart()) }
            return actions
        default:
            return []
        }
    }
}
