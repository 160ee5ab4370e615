import BerthCore
import DockerEngine
import Logging
import Synchronization

/// The network of containers with `enableInternet = false`: an `internal` bridge (no route
/// out of the machine) with inter-container traffic off (`enable_icc=false`), plus host
/// firewall rules (``HostFirewall``) so that its containers cannot connect to the host
/// either; before Docker 25 the engine itself allows both. Berth reaches the containers at
/// their own addresses, since the engine publishes no ports on an internal network.
/// Set up once per runtime, on first use.
final class IsolatedNetwork: Sendable {
    static let iccOption = "com.docker.network.bridge.enable_icc"
    static let bridgeNameOption = "com.docker.network.bridge.name"
    let name: String
    let firewall: HostFirewall
    private let setup = Mutex<Task<String, any Error>?>(nil)

    init(name: String, firewall: HostFirewall = HostFirewall()) {
        self.name = name
        self.firewall = firewall
    }

    /// Creates the network and its firewall rules unless done; returns the bridge's name.
    /// Concurrent callers share one setup; a failed one is tried again by the next caller.
    @discardableResult
    func ensure(_ client: DockerClient) async throws(BerthError) -> String {
        let task = setup.withLock { current in
            if let current { return current }
            let task = Task { [self] () async throws -> String in try await self.create(client) }
            current = task
            return task
        }
        do {
            return try await task.value
        } catch {
            setup.withLock { if $0 == task { $0 = nil } }
            throw BerthError.wrap(error)
        }
    }

    private func create(_ client: DockerClient) async throws(BerthError) -> String {
        guard Self.isLocal(client.host) else {
            throw BerthError(.startFailed, "enable_internet: false needs the engine on Berth's own machine (its firewall rules are the host's), but DOCKER_HOST is \(client.host); set enable_internet to true or run Berth beside the engine")
        }
        var network = try await client.listNetworks().first { $0.name == name }
        if let existing = network, !existing.isInternal || existing.options[Self.iccOption] != "false" {
            // Made by an older Berth, without the isolation this one needs: replaced while unused.
            do {
                try await client.removeNetwork(existing.id)
            } catch {
                throw BerthError(.startFailed, "the network \(name) lets its containers reach each other or the internet and is in use, so Berth cannot replace it: stop its containers (docker network inspect \(name)), then start again", cause: error)
            }
            network = nil
        }
        let id: String
        if let network {
            id = network.id
        } else {
            do {
                id = try await client.createNetwork(name, internal: true, labels: [BerthLabel.app: "berth"], options: [Self.iccOption: "false"])
            } catch where error.code == .conflict {
                // Created meanwhile by another server.
                guard let made = try await client.listNetworks().first(where: { $0.name == name }) else { throw error }
                id = made.id
            }
        }
        let bridge = network?.options[Self.bridgeNameOption] ?? "br-\(id.prefix(12))"
        try firewall.isolate(bridge: bridge)
        return bridge
    }

    /// Makes the next ``ensure(_:)`` set everything up again.
    func forget() {
        setup.withLock { $0 = nil }
    }

    /// Removes the network and its firewall rules when no container uses it any more; one
    /// still in use (by another server's containers, say) keeps both.
    func release(_ client: DockerClient, logger: Logger) async {
        guard let network = try? await client.listNetworks().first(where: { $0.name == name }) else { return }
        do {
            try await client.removeNetwork(network.id)
        } catch {
            logger.debug("the isolated network stays: it is in use", metadata: ["network": "\(name)", "error": "\(error)"])
            return
        }
        forget()
        firewall.release(bridge: network.options[Self.bridgeNameOption] ?? "br-\(network.id.prefix(12))")
    }

    static func isLocal(_ host: DockerHost) -> Bool {
        switch host {
        case .unix: true
        case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }
}
