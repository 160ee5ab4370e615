import Berth
import BerthConfig
import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Where and how a server runs.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8787
    public var adminHost = "127.0.0.1"
    public var adminPort = 8788
    public var state: StateDirectory
    /// Stop and remove every container on shutdown (`berth dev`). Otherwise containers keep
    /// running and the next start adopts them.
    public var stopContainersOnExit = false
    /// Signals that shut the server down gracefully.
    public var shutdownSignals: [UnixSignal] = [.sigterm, .sigint]
    /// Serve `/metrics` without the admin token (for a Prometheus scraper).
    public var publicMetrics = false

    public init(state: StateDirectory) {
        self.state = state
    }
}

/// `berth serve`: the long-running platform. Restores the last deployment and reconciles with
/// the engine, then serves the gateway and the admin API until a shutdown signal. Every part
/// is a Service of one ServiceGroup; shutdown runs in reverse: the gateway and the admin API
/// stop accepting and finish what is in flight, then (for `dev`) the containers stop, then
/// the state store's queue drains.
public struct PlatformServer: Sendable {
    public var options: ServerOptions
    public var logger: Logger
    /// A Swift Worker; without one, each deployment's routes serve.
    public var worker: (any Worker)?
    /// Swift ``Container`` types by class name.
    public var containerTypes: [String: any Container.Type] = [:]
    /// Deployed once the server is up (`berth dev`): built by this closure.
    public var initialDeployment: (@Sendable (DockerClient) async throws(BerthError) -> Deployment)?
    /// Each element redeploys with `initialDeployment` (`berth dev`'s r + Enter).
    public var redeploys: AsyncStream<Void>?
    /// What the gateway serves; given, so that embedding code (the benchmarks) can reach the
    /// current deployment's `env` too.
    public var serving = ServingState()

    public init(options: ServerOptions, logger: Logger, worker: (any Worker)? = nil) {
        self.options = options
        self.logger = logger
        self.worker = worker
    }

    /// Runs until a shutdown signal (or cancellation). `say` gets the lines a person follows;
    /// `onReady` where the server listens, once both listeners are up.
    public func run(
        client: DockerClient, say: @escaping @Sendable (String) -> Void, onReady: @escaping @Sendable (ServerInfo) -> Void = { _ in }
    ) async throws {
        try await client.ping()
        let state = options.state
        try state.create()
        let (token, created) = try state.adminToken()
        say(created ? "Admin token written to \(state.tokenPath) (mode 0600)" : "Admin token: \(state.tokenPath)")
        let store = try await StateStore.open(path: state.databasePath, logger: logger)
        let serverID: String
        if let saved = try await store.meta("server_id") {
            serverID = saved
        } else {
            serverID = Deployment.newID() + Deployment.newID()
            try await store.setMeta("server_id", serverID)
        }
        let runtime = DockerRuntime(client: client, logger: logger)
        let recorder = StateRecorder(store: store, logger: logger)
        let ownerLabel = "berth.server=\(serverID)"
        let telemetry = Telemetry()
        let events = InstanceEventHub(recorder: recorder, telemetry: telemetry)
        let registry = ClassRegistry(
            runtime: runtime, logger: logger, observer: events, telemetry: telemetry, containerTypes: containerTypes,
            ownerLabels: ["berth.server": serverID]
        )
        let serving = self.serving
        let deployer = Deployer(
            registry: registry, serving: serving, store: store, client: client, runtime: runtime, ownerLabel: ownerLabel,
            worker: worker, logger: logger, say: say
        )
        let outcome = try await deployer.restore()
        if let current = await deployer.current {
            say("Serving deployment \(current.id) of \(current.config.name)")
        }
        if !outcome.adopted.isEmpty || !outcome.stopped.isEmpty || !outcome.removed.isEmpty {
            say("Reconciled with the engine: \(outcome.adopted.count) running instance(s) adopted, \(outcome.stopped.count) orphan(s) stopped, \(outcome.removed.count) stopped container(s) removed")
        }
        if let initialDeployment {
            let deployment = try await initialDeployment(client)
            _ = try await deployer.deploy(deployment)
            say("Deployed \(deployment.id)")
        }

        let listening = ListeningPorts()
        let host = options.host
        let adminHost = options.adminHost
        let startedAt = Date()
        let announce: @Sendable () -> Void = {
            guard let (gateway, admin) = listening.both() else { return }
            let info = ServerInfo(
                serverID: serverID, gatewayURL: "http://\(Self.hostText(host)):\(gateway)", adminURL: "http://\(Self.hostText(adminHost)):\(admin)",
                stateDirectory: state.path, pid: getpid(), startedAt: startedAt
            )
            state.writeServerInfo(info)
            say("Ready on \(info.gatewayURL)")
            say("Admin API on \(info.adminURL)/api (Authorization: Bearer <token from \(state.tokenPath)>)")
            say("Dashboard on \(info.adminURL)/ (log in with that token)")
            onReady(info)
        }
        let upstreams = UpstreamPools()
        let gateway = Application(
            responder: ServingResponder(serving: serving),
            server: .gateway(routing: serving.warmRouting, upstreams: upstreams),
            configuration: ApplicationConfiguration(address: .hostname(host, port: options.port), serverName: "berth"),
            onServerRunning: { channel in
                listening.setGateway(channel.localAddress?.port ?? 0)
                announce()
            },
            logger: logger
        )
        let info = ServerInfo(serverID: serverID, gatewayURL: "", adminURL: "", stateDirectory: state.path, pid: getpid(), startedAt: startedAt)
        var adminAPI = AdminAPI(deployer: deployer, events: events, telemetry: telemetry, info: info, state: state)
        adminAPI.publicMetrics = options.publicMetrics
        let admin = Application(
            router: adminAPI.router(token: token),
            configuration: ApplicationConfiguration(address: .hostname(adminHost, port: options.adminPort), serverName: "berth-admin"),
            onServerRunning: { channel in
                listening.setAdmin(channel.localAddress?.port ?? 0)
                announce()
            },
            logger: logger
        )
        var services: [any Service] = [
            recorder,
            ContainersService(deployer: deployer, stopContainers: options.stopContainersOnExit, say: say),
            TelemetrySampler(telemetry: telemetry, registry: registry),
            admin, gateway,
            // Shut down first: ends the live log streams, which would keep the admin API's
            // connections open.
            StreamCloser(events: events),
        ]
        if let redeploys, let initialDeployment {
            services.append(RedeployService(redeploys: redeploys, deployer: deployer, client: client, build: initialDeployment, say: say))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: options.shutdownSignals, logger: logger))
        do {
            try await group.run()
        } catch {
            upstreams.closeAll()
            await store.close()
            throw error
        }
        upstreams.closeAll()
        try? FileManager.default.removeItem(atPath: state.serverFilePath)
        await store.close()
    }

    static func hostText(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}

/// The two listeners' ports, as they come up.
final class ListeningPorts: Sendable {
    private let ports = Mutex<(gateway: Int?, admin: Int?)>((nil, nil))
    func setGateway(_ port: Int) { ports.withLock { $0.gateway = port } }
    func setAdmin(_ port: Int) { ports.withLock { $0.admin = port } }
    func both() -> (Int, Int)? {
        ports.withLock { value in
            guard let gateway = value.gateway, let admin = value.admin else { return nil }
            return (gateway, admin)
        }
    }
}

/// On shutdown: stops the rollout in progress and, for `dev`, every container (SIGTERM,
/// grace, SIGKILL) and whatever the engine still holds for this server.
struct ContainersService: Service {
    let deployer: Deployer
    let stopContainers: Bool
    let say: @Sendable (String) -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await deployer.cancelRollout()
        guard stopContainers else {
            say("containers keep running; the next start adopts them")
            return
        }
        say("stopping containers…")
        await deployer.registry.shutdown()
        let runtime = DockerRuntime(client: deployer.client)
        for leftover in (try? await runtime.listInstances(labels: [deployer.ownerLabel])) ?? [] {
            await runtime.removeInstance(leftover.containerID)
        }
        say("stopped")
    }
}

/// On shutdown, ends the streams that follow instances (log tails, the dashboard's logs).
struct StreamCloser: Service {
    let events: InstanceEventHub

    func run() async throws {
        try? await gracefulShutdown()
        events.finishAll()
    }
}

/// `berth dev`'s rebuild: builds and deploys again; running instances are replaced at once.
struct RedeployService: Service {
    let redeploys: AsyncStream<Void>
    let deployer: Deployer
    let client: DockerClient
    let build: @Sendable (DockerClient) async throws(BerthError) -> Deployment
    let say: @Sendable (String) -> Void

    func run() async throws {
        for await _ in redeploys.cancelOnGracefulShutdown() {
            say("rebuilding…")
            do {
                let deployment = try await build(client)
                _ = try await deployer.deploy(deployment)
                while !(await deployer.progress(of: deployment.id).isFinished) {
                    try await Task.sleep(for: .milliseconds(100))
                }
                say("rebuilt and deployed \(deployment.id); running containers were replaced")
            } catch {
                say("rebuild failed: \(BerthError.wrap(error).message)")
            }
        }
    }
}
