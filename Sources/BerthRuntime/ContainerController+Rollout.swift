import BerthCore

/// Instances that outlive a controller (adopted after a restart of Berth) or a deployment
/// (rolled over to the class's current spec).
extension ContainerController {
    /// Serves from a container that already runs: one Berth started before it restarted.
    /// Like a fresh start, it is served only once its ports answer (requests wait); one
    /// that does not answer within `port_ready_timeout` is replaced. Returns false (and
    /// touches nothing) when this object already has an instance.
    public func adopt(_ adopted: AdoptedInstance) async -> Bool {
        guard enter() else { return await successor().adopt(adopted) }
        defer { leave() }
        let launch = ControllerStateMachine.Launch(
            instanceID: adopted.instanceID, deploymentID: adopted.deploymentID, fingerprint: adopted.fingerprint ?? "",
            created: adopted.created, requested: clock.now, settings: specBox.current.settings
        )
        guard case .stopped = machine.phase else { return false }
        budget.forceAcquire()
        guard let g = machine.adopt(now: clock.now, launch: launch, running: adopted.instance, slotHeld: true) else { return false }
        hadContainer = true
        lastSettings = launch.settings
        machine.sleepAfter = settings.sleepAfter
        watchExit(g, containerID: adopted.instance.containerID)
        perform([.probe(generation: g)])
        return true
    }

    /// Whether a container found on the engine is this object's own: the one its instance
    /// runs in or is being created as (same `berth.instance`), or one it is removing. A
    /// reconciliation while Berth serves leaves those alone.
    public func claims(containerID: String, instanceID: String?) async -> Bool {
        if isRetired { return await existingSuccessor()?.claims(containerID: containerID, instanceID: instanceID) ?? false }
        if discarding > 0 { return true }
        guard let instance = machine.phase.instance else { return false }
        return instance.running?.containerID == containerID || instance.launch.instanceID == instanceID
    }

    /// A rollout step: when the running instance runs something other than the class's
    /// current spec, stops it (stop signal, grace) and starts its replacement, returning once
    /// the replacement answers. Requests arriving meanwhile wait for the replacement.
    /// Returns whether it replaced anything.
    public func rollOver() async throws(BerthError) -> Bool {
        guard enter() else { return try await existingSuccessor()?.rollOver() ?? false }
        defer { leave() }
        let (spec, settingsBox) = specBox.current
        guard case .healthy(let current) = machine.phase,
              current.launch.fingerprint != spec.fingerprint || current.launch.deploymentID != spec.deploymentID
        else { return false }
        if current.launch.fingerprint == spec.fingerprint {
            // Same content: the instance joins the new deployment without a restart, and
            // takes its settings that need none (sleepAfter, timeouts).
            machine.joinDeployment(spec.deploymentID, settings: settingsBox)
            lastSettings = settingsBox
            machine.sleepAfter = settings.sleepAfter
            scheduleIdleTimer()
            return false
        }
        await stop()
        try await startAndWaitForPorts()
        return true
    }
}
