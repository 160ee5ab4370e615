import BerthCore
import BerthConfig
import Foundation
import DockerEngine
import Logging
import Synchronization

/// The Docker driver: ``ContainerRuntime`` (ports published on 127.0.0.1 on ephemeral
/// ports, exits watched over one events stream), ``ImageStore`` and ``InstanceOutput`` on a
/// Docker engine. The only part of Berth outside the CLI that speaks the Engine API.
public struct DockerRuntime: ContainerRuntime {
    let client: DockerClient
    let exits: DockerExitWatcher

    /// Lost while the exit watcher's events stream is back but has not looked at every
    /// container again (``EngineSight``).
    public var sight: EngineSight { exits.sight }
    /// Network for containers with `enableInternet = false`; created on first use.
    let isolatedNetwork: IsolatedNetwork
    let logger: Logger
    /// The engine's CPUs and memory, read once: limits above them are capped, or the engine
    /// would refuse to start the container.
    let capacity = EngineCapacity()

    public init(client: DockerClient, isolatedNetwork: String = "berth-no-internet", logger: Logger = Logger(label: "berth.runtime")) {
        self.client = client
        self.isolatedNetwork = IsolatedNetwork(name: isolatedNetwork)
        self.logger = logger
        self.exits = DockerExitWatcher(client: client, logger: logger)
    }

    public func startInstance(_ spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        var container = ContainerSpec(image: spec.image)
        container.environment = spec.environment
        container.labels = spec.labels
        container.publishedPorts = spec.ports
        container.publishAddress = "127.0.0.1"
        let (cpus, memory) = await capacity.read(client)
        container.memoryBytes = spec.memoryBytes.map { memory > 0 ? min($0, memory) : $0 }
        container.nanoCPUs = spec.nanoCPUs.map { cpus > 0 ? min($0, Int64(cpus) * 1_000_000_000) : $0 }
        if container.nanoCPUs != spec.nanoCPUs || container.memoryBytes != spec.memoryBytes {
            capacity.warnOnce(logger, "the instance type asks for more than the engine has (\(cpus) CPUs, \(memory >> 20) MiB); its containers get the engine's whole capacity")
        }
        if let entrypoint = spec.entrypoint, !entrypoint.isEmpty {
            container.entrypoint = [entrypoint[0]]
            container.command = Array(entrypoint.dropFirst())
        }
        Self.confine(&container, spec.isolation, ports: spec.ports)
        if !spec.enableInternet {
            try await isolatedNetwork.ensure(client)
            container.network = isolatedNetwork.name
        }
        var id = ""
        // Twice at most: the isolated network may be removed by another server's release
        // between its setup and this container's create or start; then it is set up again.
        for attempt in 1...2 {
            do {
                id = try await client.createContainer(container)
                try await client.startContainer(id)
                break
            } catch where error.code == .notFound && !spec.enableInternet && attempt == 1 {
                if !id.isEmpty { await removeInstance(id) }
                id = ""
                isolatedNetwork.forget()
                try await isolatedNetwork.ensure(client)
            } catch {
                if !id.isEmpty { await removeInstance(id) }
                throw error
            }
        }
        return try await reached(id, spec)
    }

    public func restartInstance(_ containerID: String, spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        do {
            try await client.startContainer(containerID)
        } catch {
            await removeInstance(containerID)
            throw error
        }
        return try await reached(containerID, spec)
    }

    /// The endpoints of container `id`, just started from `spec`. One that exited already
    /// is left in place (its error names it); on any other failure it is removed.
    private func reached(_ id: String, _ spec: InstanceSpec) async throws(BerthError) -> RunningInstance {
        do {
            let details = try await client.inspectContainer(id)
            // Exited already (the engine publishes no ports, and gives no address, to a stopped container).
            if !details.state.running, details.state.status == "exited" || details.state.status == "dead" {
                let code = details.state.exitCode
                throw BerthError(.startFailed, "the container exited with code \(code) as soon as it started", cause: InstanceExited(exitCode: code, containerID: id))
            }
            let direct = Self.direct(details, ports: spec.ports)
            if !spec.enableInternet {
                // No port is published on an internal network: Berth, on the engine's
                // machine, reaches the container at its own address.
                guard spec.ports.allSatisfy({ direct[$0] != nil }) else {
                    throw BerthError(.engineError, "the container has no address on the network \(isolatedNetwork.name)")
                }
                return RunningInstance(containerID: id, endpoints: direct, directEndpoints: direct)
            }
            var endpoints: [Int: Endpoint] = [:]
            for port in spec.ports {
                guard let hostPort = details.hostPort(for: port) else {
                    throw BerthError(.engineError, "the engine published no host port for container port \(port)")
                }
                endpoints[port] = Endpoint(host: "127.0.0.1", port: hostPort)
            }
            return RunningInstance(containerID: id, endpoints: endpoints, directEndpoints: direct)
        } catch {
            let error = BerthError.wrap(error)
            if (error.cause as? InstanceExited)?.containerID == nil { await removeInstance(id) }
            throw error
        }
    }

    /// The class's isolation as the engine spells it: a pids limit, every capability dropped
    /// and the few it needs added back, `no-new-privileges`, a read-only root with `/tmp` a
    /// tmpfs, and rotated logs.
    static func confine(_ container: inout ContainerSpec, _ isolation: ContainerIsolation, ports: [Int]) {
        container.pidsLimit = isolation.pidsLimit > 0 ? isolation.pidsLimit : nil
        container.capDrop = ["ALL"]
        container.capAdd = isolation.capabilities(ports: ports)
        container.securityOptions = isolation.noNewPrivileges ? ["no-new-privileges"] : []
        container.readOnlyRootfs = isolation.readOnlyRoot
        container.tmpfs = isolation.readOnlyRoot ? ["/tmp": "rw,nosuid,nodev,mode=1777"] : [:]
        // Output kept on disk at most max_size × max_files, in the driver the log tail reads.
        container.logDriver = "json-file"
        container.logOptions = ["max-size": String(isolation.logs.maxSizeBytes), "max-file": String(isolation.logs.maxFiles)]
    }

    /// Removes what Berth made for isolated containers (their network and firewall rules)
    /// once no container uses it.
    public func releaseUnused() async {
        await isolatedNetwork.release(client, logger: logger)
    }

    public func stopInstance(_ containerID: String, signal: String, grace: Duration) async throws(BerthError) {
        let seconds = Int((grace.components.seconds) + (grace.components.attoseconds > 0 ? 1 : 0))
        if signal == "SIGTERM" || signal == "15" {
            try await client.stopContainer(containerID, timeout: seconds)
            return
        }
        try await client.killContainer(containerID, signal: signal)
        try await client.stopContainer(containerID, timeout: seconds)
    }

    public func killInstance(_ containerID: String) async throws(BerthError) {
        do {
            try await client.killContainer(containerID)
        } catch where error.code == .conflict {
            // Not running any more.
        }
    }

    public func removeInstance(_ containerID: String) async {
        do {
            try await client.removeContainer(containerID, force: true)
        } catch where error.code == .notFound {
        } catch {
            logger.warning("could not remove a container", metadata: ["container": "\(containerID)", "error": "\(error)"])
        }
    }

    public func waitForExit(_ containerID: String) async throws(BerthError) -> Int {
        try await exits.wait(containerID)
    }

    public func listInstances(labels: [String]) async throws(BerthError) -> [InstanceSummary] {
        try await client.listContainers(all: true, labels: labels).map {
            InstanceSummary(
                containerID: $0.id, labels: $0.labels, running: $0.state == "running",
                created: Date(timeIntervalSince1970: TimeInterval($0.created))
            )
        }
    }

    public func runningInstance(_ containerID: String) async throws(BerthError) -> RunningInstance {
        let details = try await client.inspectContainer(containerID)
        var endpoints: [Int: Endpoint] = [:]
        for key in details.ports.keys where key.hasSuffix("/tcp") {
            if let port = Int(key.dropLast(4)), let hostPort = details.hostPort(for: port) {
                endpoints[port] = Endpoint(host: "127.0.0.1", port: hostPort)
            }
        }
        if details.hostConfig.networkMode == isolatedNetwork.name {
            // Isolated: nothing is published, the container's own address is the way in.
            let direct = Self.direct(details, ports: details.config.exposedTCPPorts)
            return RunningInstance(containerID: containerID, endpoints: direct, directEndpoints: direct)
        }
        return RunningInstance(containerID: containerID, endpoints: endpoints, directEndpoints: Self.direct(details, ports: Array(endpoints.keys)))
    }

    /// The container's own address for each port, on its first network (sorted by name)
    /// with an IPv4 address. Whether Berth can reach it (not from another machine or from
    /// inside a container, say) is checked before it is used: ``ReadinessProbe/preferDirect``.
    static func direct(_ details: ContainerDetails, ports: [Int]) -> [Int: Endpoint] {
        guard let address = details.networkAddresses.sorted(by: { $0.key < $1.key }).lazy.map(\.value).first(where: { !$0.contains(":") })
        else { return [:] }
        var endpoints: [Int: Endpoint] = [:]
        for port in ports { endpoints[port] = Endpoint(host: address, port: port) }
        return endpoints
    }
}

/// The engine's CPU count and memory, read on first use.
final class EngineCapacity: Sendable {
    private let value = Mutex<(cpus: Int, memory: Int64, warned: Bool)?>(nil)

    func read(_ client: DockerClient) async -> (Int, Int64) {
        if let known = value.withLock({ $0 }) { return (known.cpus, known.memory) }
        guard let info = try? await client.info() else { return (0, 0) }
        value.withLock { $0 = $0 ?? (info.cpus, info.memoryBytes, false) }
        return (info.cpus, info.memoryBytes)
    }

    func warnOnce(_ logger: Logger, _ message: String) {
        let first = value.withLock { state -> Bool in
            guard let current = state, !current.warned else { return false }
            state?.warned = true
            return true
        }
        if first { logger.warning("\(message)") }
    }
}
