import BerthCore
import BerthRuntime
import Synchronization

/// A runtime around another (the real Docker driver in engine tests) that counts the
/// starts it passes on (each a create and a start on the engine) and the most that ran at once.
public final class RecordingRuntime: ContainerRuntime {
    public let base: any ContainerRuntime
    private let state = Mutex((starts: 0, restarts: 0, running: 0, maxRunning: 0, lastSpec: InstanceSpec?.none))

    public init(_ base: any ContainerRuntime) {
        self.base = base
    }

    /// `startInstance` calls so far.
    public var starts: Int { state.withLock { $0.starts } }
    /// `restartInstance` calls so far (each one start on the engine).
    public var restarts: Int { state.withLock { $0.restarts } }
    /// The most `startInstance` calls in progress at one time.
    public var maxConcurrentStarts: Int { state.withLock { $0.maxRunning } }
    /// What the last `startInstance` call asked for.
    public var lastSpec: InstanceSpec? { state.withLock { $0.lastSpec } }

    public func startInstance(_ spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        state.withLock { s in
            s.starts += 1
            s.lastSpec = spec
            s.running += 1
            s.maxRunning = max(s.maxRunning, s.running)
        }
        defer { state.withLock { $0.running -= 1 } }
        return try await base.startInstance(spec)
    }

    public func restartInstance(_ containerID: String, spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        state.withLock { $0.restarts += 1 }
        return try await base.restartInstance(containerID, spec: spec)
    }

    public func stopInstance(_ containerID: String, signal: String, grace: Duration) async throws(BerthError) {
        try await base.stopInstance(containerID, signal: signal, grace: grace)
    }

    public func killInstance(_ containerID: String) async throws(BerthError) {
        try await base.killInstance(containerID)
    }

    public func removeInstance(_ containerID: String) async {
        await base.removeInstance(containerID)
    }

    public func waitForExit(_ containerID: String) async throws(BerthError) -> Int {
        try await base.waitForExit(containerID)
    }

    public func listInstances(labels: [String]) async throws(BerthError) -> [InstanceSummary] {
        try await base.listInstances(labels: labels)
    }

    public func runningInstance(_ containerID: String) async throws(BerthError) -> RunningInstance {
        try await base.runningInstance(containerID)
    }
}
