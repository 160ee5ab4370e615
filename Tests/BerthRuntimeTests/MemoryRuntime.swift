@testable import BerthRuntime
import BerthCore
import Foundation

/// A ``ContainerRuntime`` in memory: "instances" start at once (or when the test lets them),
/// every call is recorded, and the test makes an instance exit with the code it likes. Each
/// port of an instance is reached at `endpoint` (a listener the test runs).
actor MemoryRuntime: ContainerRuntime {
    /// One call the controller made, with the container it was about ("" for none).
    struct Call: Equatable, Sendable {
        var name: String
        var containerID: String
    }

    private struct Container {
        var spec: InstanceSpec
        var instance: RunningInstance
        var exitCode: Int?
        var exitWaiters: [CheckedContinuation<Int, Never>] = []
        var created = Date()
    }

    let endpoint: Endpoint
    private(set) var calls: [Call] = []
    private var containers: [String: Container] = [:]
    private var nextID = 0
    /// When set, starts fail with it.
    private var startError: BerthError?
    /// When true, starts wait until ``releaseStarts()``.
    private var holding = false
    private var heldStarts: [CheckedContinuation<Void, Never>] = []

    init(endpoint: Endpoint) {
        self.endpoint = endpoint
    }

    // MARK: What the test does

    func failStarts(with error: BerthError?) { startError = error }

    func holdStarts() { holding = true }

    /// Lets every held start (and later ones) through.
    func releaseStarts() {
        holding = false
        let held = heldStarts
        heldStarts = []
        for start in held { start.resume() }
    }

    var heldStartCount: Int { heldStarts.count }

    /// The container exits by itself with `code`.
    func exit(_ containerID: String, code: Int) {
        guard var container = containers[containerID], container.exitCode == nil else { return }
        container.exitCode = code
        let waiters = container.exitWaiters
        container.exitWaiters = []
        containers[containerID] = container
        for waiter in waiters { waiter.resume(returning: code) }
    }

    func count(_ name: String) -> Int { calls.filter { $0.name == name }.count }

    /// Containers that exist now, running or not.
    var containerIDs: [String] { containers.keys.sorted() }

    /// The environment the instance was started with.
    func spec(_ containerID: String) -> InstanceSpec? { containers[containerID]?.spec }

    // MARK: ContainerRuntime

    func startInstance(_ spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        calls.append(Call(name: "start", containerID: ""))
        if holding { await withCheckedContinuation { heldStarts.append($0) } }
        if let startError { throw startError }
        nextID += 1
        let id = "mem\(nextID)"
        let instance = RunningInstance(containerID: id, endpoints: Dictionary(uniqueKeysWithValues: spec.ports.map { ($0, endpoint) }))
        containers[id] = Container(spec: spec, instance: instance)
        return instance
    }

    func stopInstance(_ containerID: String, signal: String, grace: Duration) async throws(BerthError) {
        calls.append(Call(name: "stop", containerID: containerID))
        exit(containerID, code: 143)
    }

    func killInstance(_ containerID: String) async throws(BerthError) {
        calls.append(Call(name: "kill", containerID: containerID))
        exit(containerID, code: 137)
    }

    func removeInstance(_ containerID: String) async {
        calls.append(Call(name: "remove", containerID: containerID))
        exit(containerID, code: 137)
        containers[containerID] = nil
    }

    func waitForExit(_ containerID: String) async throws(BerthError) -> Int {
        calls.append(Call(name: "wait", containerID: containerID))
        guard let container = containers[containerID] else { throw BerthError(.notFound, "no container \(containerID)") }
        if let code = container.exitCode { return code }
        return await withCheckedContinuation { containers[containerID]?.exitWaiters.append($0) }
    }

    func listInstances(labels: [String]) async throws(BerthError) -> [InstanceSummary] {
        calls.append(Call(name: "list", containerID: ""))
        return containers.filter { _, container in
            labels.allSatisfy { label in
                let parts = label.split(separator: "=", maxSplits: 1).map(String.init)
                return container.spec.labels[parts[0]] == (parts.count > 1 ? parts[1] : nil)
            }
        }.map { id, container in
            InstanceSummary(containerID: id, labels: container.spec.labels, running: container.exitCode == nil, created: container.created)
        }
    }

    func runningInstance(_ containerID: String) async throws(BerthError) -> RunningInstance {
        calls.append(Call(name: "running", containerID: containerID))
        guard let container = containers[containerID] else { throw BerthError(.notFound, "no container \(containerID)") }
        return container.instance
    }
}
