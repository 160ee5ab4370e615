import BerthCore

/// The hooks, in order, and the idle timer that leads to `onActivityExpired`.
///
/// Hook calls are queued and made one after another by one task per object, started when
/// the first is queued and ending when the queue is empty: `onStart` of an instance never
/// runs before `onStop` of the one before it.
extension ContainerController {
    /// A hook call to make.
    enum HookEvent: Sendable {
        case start
        case stop(exitCode: Int, reason: StopReason)
        case error(BerthError)
        /// The instance of `generation` was idle at `at`; stop it if the hook agrees.
        case activityExpired(generation: Int, at: ContinuousClock.Instant)
    }

    func enqueueHook(_ event: HookEvent) {
        hookEvents.append(event)
        guard hookDrainer == nil else { return }
        hookDrainer = Task { await self.drainHooks() }
    }

    private func drainHooks() async {
        while !hookEvents.isEmpty {
            let event = hookEvents.removeFirst()
            switch event {
            case .start:
                await hooks.onStart()
            case .stop(let exitCode, let reason):
                await hooks.onStop(exitCode: exitCode, reason: reason)
            case .error(let error):
                await hooks.onError(error)
            case .activityExpired(let g, let expiredAt):
                if await hooks.onActivityExpired() { stopIfIdle(g, expiredAt: expiredAt) }
            }
        }
        hookDrainer = nil
        settle()
    }

    /// Returns once every hook queued so far has run.
    func hooksSettled() async {
        while let drainer = hookDrainer { await drainer.value }
    }

    /// Stops the instance that expired at `expiredAt`, unless a request came or is in flight
    /// since: the gate closes in the same critical section that finds it idle.
    private func stopIfIdle(_ g: Int, expiredAt: ContinuousClock.Instant) {
        guard case .healthy(let instance) = machine.phase, instance.generation == g, machine.inFlight == 0,
              machine.lastActivity <= expiredAt, gate.closeIfIdle(since: expiredAt)
        else { return }
        logger.info("idle for \(DurationText.format(machine.sleepAfter)); stopping")
        perform(machine.stopRequested(kill: false))
    }

    func scheduleIdleTimer() {
        idleTask?.cancel()
        idleTask = Task { [clock] in
            while !Task.isCancelled {
                guard let wake = await self.idleCheck() else { return }
                try? await clock.sleep(until: wake)
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
}
