import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import ServiceLifecycle
import Synchronization

/// The server's startup as a service of its group: restores the last deployment, reconciles
/// with the engine, makes the initial deployment (`berth dev`'s build), then opens the gate
/// the listeners wait behind and stays until shutdown. A failure here shuts the group down
/// and becomes the server's error (the CLI prints it and exits 1).
struct StartupService: Service {
    let deployer: Deployer
    let engine: any EngineDriver
    let initialDeployment: (@Sendable (any EngineDriver) async throws(BerthError) -> Deployment)?
    let say: @Sendable (String) -> Void
    let gate = StartupGate()

    func run() async throws {
        do {
            // A signal during startup (a long build) ends it: nothing more is started.
            try await cancelWhenGracefulShutdown { try await startUp() }
        } catch {
            if Task.isShuttingDownGracefully { return }
            throw error
        }
        gate.open()
        try? await gracefulShutdown()
    }

    private func startUp() async throws {
        let outcome = try await deployer.restore()
        if let current = await deployer.current {
            say("Serving deployment \(current.id) of \(current.config.name)")
        }
        if !outcome.adopted.isEmpty || !outcome.stopped.isEmpty || !outcome.removed.isEmpty {
            say("Reconciled with the engine: \(outcome.adopted.count) running instance(s) adopted, \(outcome.stopped.count) orphan(s) stopped, \(outcome.removed.count) stopped container(s) removed")
        }
        if let initialDeployment {
            let deployment = try await initialDeployment(engine)
            _ = try await deployer.deploy(deployment)
            say("Deployed \(deployment.id)")
        }
    }
}

/// Runs `service` once startup finished; returns without running it when the group shuts
/// down first (a failed startup, a signal during the build).
struct AfterStartup: Service {
    let gate: StartupGate
    let service: any Service

    func run() async throws {
        let opened = (try? await cancelWhenGracefulShutdown { await gate.wait() }) ?? false
        guard opened else { return }
        try await service.run()
    }
}

/// Opens once; waiters wake then, or (returning false) when their task is cancelled.
final class StartupGate: Sendable {
    private struct State {
        var open = false
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiting { waiter.resume(returning: true) }
    }

    /// Whether the gate opened (false: cancelled before it did).
    func wait() async -> Bool {
        let token = state.withLock { state -> Int in
            state.next += 1
            return state.next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let result: Bool? = state.withLock { state in
                    if state.open { return true }
                    if Task.isCancelled { return false }
                    state.waiters[token] = continuation
                    return nil
                }
                if let result { continuation.resume(returning: result) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: token) }
            waiter?.resume(returning: false)
        }
    }
}
