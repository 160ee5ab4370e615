import BerthCore

/// Stopping and losing an instance: the stop or kill, the exit watcher, the removal of a
/// start given up on. Engine calls run on tasks and report back to the actor.
extension ContainerController {
    /// How long a stop waits for holders of standing leases to give them up: at once when
    /// killing, after their requests in flight otherwise.
    static let revokeLimit: Duration = .seconds(2)
    static let drainLimit: Duration = .seconds(10)

    func launchStop(_ g: Int, kill: Bool) {
        // Without a container yet, the machine stops it as soon as it exists.
        guard let id = machine.instance(g)?.running?.containerID else { return }
        probeTask?.cancel()
        // Standing leases are taken back before the container stops (a kill does not wait
        // for the requests sent under them).
        gate.close(drain: !kill)
        let (runtime, grace, gate) = (self.runtime, settings.stopGracePeriod, self.gate)
        Task {
            await gate.revocationsSettled(within: kill ? Self.revokeLimit : Self.drainLimit)
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

    /// Waits for the container of `g` to exit, removes it (or, when it exited before its
    /// ports answered, parks it for the next attempt), and tells the actor.
    func watchExit(_ g: Int, containerID: String) {
        let runtime = self.runtime
        Task {
            let code = (try? await runtime.waitForExit(containerID)) ?? -1
            if code < 0 || !self.park(g, containerID: containerID) { await runtime.removeInstance(containerID) }
            self.containerGone(g, exitCode: code)
        }
    }

    private func containerGone(_ g: Int, exitCode: Int) {
        guard let instance = machine.instance(g) else { return }
        probeTask?.cancel()
        probeTask = nil
        if case .starting = machine.phase {
            // Exited before its ports answered: a crash loop backs off.
            let (next, seconds) = noteFailedStart(exitCode: exitCode, reason: "the container exited with code \(exitCode)")
            startError = BerthError(.startFailed, "Failed to start container: the container exited with code \(exitCode) before its ports answered (\(next))")
            startError?.retryAfterSeconds = seconds
        }
        let actions = machine.containerExited(generation: g, exitCode: exitCode, launch: nextLaunch())
        for case .stopped(_, let code, let reason) in actions {
            if reason == .exit && code != 0 { failure = ("the container exited with code \(code)", .now) }
            report(instance, .stopped(exitCode: code, reason: reason))
        }
        perform(actions)
    }

    /// A start given up on: its container (if any) is killed and removed, then its slot freed.
    func discard(_ instance: ControllerStateMachine.Instance) {
        guard let id = instance.running?.containerID else {
            if instance.slotHeld { budget.release() }
            return
        }
        let runtime = self.runtime
        discarding += 1
        Task {
            try? await runtime.killInstance(id)
            let code = (try? await runtime.waitForExit(id)) ?? -1
            await runtime.removeInstance(id)
            self.discarded(instance, exitCode: code)
        }
    }

    private func discarded(_ instance: ControllerStateMachine.Instance, exitCode: Int) {
        report(instance, .stopped(exitCode: exitCode, reason: .runtimeSignal))
        if instance.slotHeld { budget.release() }
        discarding -= 1
        settle()
    }
}
