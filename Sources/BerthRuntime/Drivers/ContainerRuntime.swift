import BerthConfig
import BerthCore
import Foundation

/// What to run for one instance of a container class.
public struct InstanceSpec: Sendable {
    /// The image reference or id.
    public var image: String
    public var environment: [String: String]
    /// Replaces the image's entrypoint (and command) when set.
    public var entrypoint: [String]?
    public var labels: [String: String]
    /// Container ports to make reachable.
    public var ports: [Int]
    /// false: no route out of the machine.
    public var enableInternet: Bool
    public var memoryBytes: Int64?
    public var nanoCPUs: Int64?
    /// Pids limit, capabilities, `no-new-privileges`, read-only root.
    public var isolation: ContainerIsolation

    public init(image: String, environment: [String: String] = [:], entrypoint: [String]? = nil, labels: [String: String] = [:],
                ports: [Int] = [], enableInternet: Bool = true, memoryBytes: Int64? = nil, nanoCPUs: Int64? = nil,
                isolation: ContainerIsolation = ContainerIsolation()) {
        self.isolation = isolation
        self.image = image
        self.environment = environment
        self.entrypoint = entrypoint
        self.labels = labels
        self.ports = ports
        self.enableInternet = enableInternet
        self.memoryBytes = memoryBytes
        self.nanoCPUs = nanoCPUs
    }
}

/// Where a container port can be reached from Berth.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A started container.
public struct RunningInstance: Sendable {
    /// The engine's id.
    public var containerID: String
    /// Container port → where Berth reaches it: its published port on loopback, or, once
    /// the controller found the container's own address answering, that address.
    public var endpoints: [Int: Endpoint]
    /// Container port → the container's own address on its network (`172.17.0.2:8080`),
    /// when the engine reports one. Reaching it skips the engine's userland port proxy.
    public var directEndpoints: [Int: Endpoint]

    public init(containerID: String, endpoints: [Int: Endpoint], directEndpoints: [Int: Endpoint] = [:]) {
        self.containerID = containerID
        self.endpoints = endpoints
        self.directEndpoints = directEndpoints
    }
}

/// A container the engine holds, as listing reports it.
public struct InstanceSummary: Sendable {
    public var containerID: String
    public var labels: [String: String]
    public var running: Bool
    public var created: Date

    public init(containerID: String, labels: [String: String], running: Bool, created: Date = Date()) {
        self.containerID = containerID
        self.labels = labels
        self.running = running
        self.created = created
    }
}

/// The cause of a failed start whose container exited before it could be reached.
/// `containerID` names the stopped container when the runtime left it in place (so that
/// the caller may start it again with ``ContainerRuntime/restartInstance(_:spec:)`` or
/// remove it); nil when it is gone already.
public struct InstanceExited: Error, Sendable {
    public let exitCode: Int
    public let containerID: String?
    public init(exitCode: Int, containerID: String? = nil) {
        self.exitCode = exitCode
        self.containerID = containerID
    }
}

/// The engine behind Berth: the Docker driver now, a cluster driver later. Implementations
/// are safe to call concurrently.
public protocol ContainerRuntime: Sendable {
    /// Creates and starts a container, returning once the engine reports it running, with
    /// its endpoints. A container that was created but failed to start is removed, except
    /// one that exited as soon as it started: that one is left stopped, named by the
    /// error's ``InstanceExited`` cause, for the caller to restart or remove.
    func startInstance(_ spec: InstanceSpec) async throws(BerthError) -> RunningInstance
    /// Starts a stopped container again, in place (its filesystem and logs kept), and
    /// returns as ``startInstance(_:)`` does; `spec` is what it was created from. One start
    /// call instead of a create, a start and a remove: what a crash loop's retries use.
    func restartInstance(_ containerID: String, spec: InstanceSpec) async throws(BerthError) -> RunningInstance
    /// Sends SIGTERM (or `signal`), waits up to `grace`, then SIGKILL.
    func stopInstance(_ containerID: String, signal: String, grace: Duration) async throws(BerthError)
    /// Sends SIGKILL at once.
    func killInstance(_ containerID: String) async throws(BerthError)
    /// Removes a stopped (or, forced, a running) container; a missing one is not an error.
    func removeInstance(_ containerID: String) async
    /// Waits until the container is not running and returns its exit code.
    func waitForExit(_ containerID: String) async throws(BerthError) -> Int
    /// Containers carrying every label (`key=value`).
    func listInstances(labels: [String]) async throws(BerthError) -> [InstanceSummary]
    /// A running container's endpoints (published and direct), by container port.
    func runningInstance(_ containerID: String) async throws(BerthError) -> RunningInstance
    /// Removes what the runtime set up for containers (networks, firewall rules) and no
    /// container uses any more; called once every container is gone.
    func releaseUnused() async
    /// Whether its endpoints can be trusted for new connections (see ``EngineSight``).
    var sight: EngineSight { get }
}

extension ContainerRuntime {
    public func releaseUnused() async {}

    public var sight: EngineSight { .always }

    /// A runtime that cannot start a container again: the caller creates a new one.
    public func restartInstance(_ containerID: String, spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        throw BerthError(.engineError, "this runtime cannot start a stopped container again")
    }
}
