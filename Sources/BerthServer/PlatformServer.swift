import Berth
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthStorage
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
    /// What each client may cost (`berth.limits`); read when the server starts, for both
    /// listeners.
    public var limits = LimitSettings()
    /// The listeners' certificates (`berth.tls`); a listener without any speaks plain HTTP.
    public var tls = TLSSettings()

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
    public var initialDeployment: (@Sendable (any EngineDriver) async throws(BerthError) -> Deployment)?
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
    /// `onReady` where the server listens, once both listeners are up. Startup work (restore,
    /// reconcile, the initial deployment) runs as a service of the group, before the listeners
    /// open; when it fails, the group shuts down what it started and the error is thrown.
    /// Whatever this opened is closed on every path.
    public func run(
        engine: any EngineDriver, say: @escaping @Sendable (String) -> Void, onReady: @escaping @Sendable (ServerInfo) -> Void = { _ in }
    ) async throws {
        let state = options.state
        try state.create()
        // One server per state folder, decided before anything touches the engine.
        let lock = try StateLock.acquire(state)
        defer { lock.release() }
        // Bad certificates stop the start here, before the engine is touched.
        let gatewayTLS = try options.tls.gateway.isEmpty ? nil : ListenerTLS(listener: "gateway", files: options.tls.gateway)
        let adminTLS = try options.tls.admin.isEmpty ? nil : ListenerTLS(listener: "admin", files: options.tls.admin)
        for key in Set([gatewayTLS, adminTLS].compactMap { $0 }.flatMap(\.exposedKeys)).sorted() {
            say("warning: the TLS key \(key) can be read by other users of this machine; chmod 600 it (whoever reads it can pose as this server)")
        }
        try await engine.ping()
        Self.raiseOpenFileLimit(atLeast: 2 * options.limits.maxConnections + 1024, say: say)
        let (token, created) = try state.adminToken()
        say(created ? "Admin token written to \(state.tokenPath) (mode 0600)" : "Admin token: \(state.tokenPath)")
        let existed = FileManager.default.fileExists(atPath: state.databasePath)
        let store = try await StateStore.open(path: state.databasePath, logger: logger)
        let upgrade = await store.schemaUpgrade
        if existed && upgrade.migrated { say("State store \(state.databasePath) migrated: \(upgrade)") }
        let telemetry = Telemetry()
        let recorder = StateRecorder(store: store, logger: logger)
        let events = InstanceEventHub(recorder: recorder, telemetry: telemetry)
        let upstreams = UpstreamPools(responseTimeout: options.limits.responseTimeout)
        var registry: ClassRegistry?
        let workers = WorkerSupervisor(state: state, logger: logger, say: say)
        do {
            let serverID = try await Self.serverID(store)
            let classes = ClassRegistry(
                runtime: engine, logger: logger, observer: events, telemetry: telemetry, containerTypes: containerTypes,
                ownerLabels: ["berth.server": serverID], responseTimeout: options.limits.responseTimeout,
                workerHooks: { className, id in workers.hooks(className: className, id: id) },
                objects: ObjectStorageRoot(folder: state.objectsPath),
                alarms: AlarmScheduler(folder: state.objectsPath, logger: logger)
            )
            registry = classes
            try await classes.startAlarms()
            let deployer = Deployer(
                registry: classes, store: store, engine: engine, ownerLabel: "berth.server=\(serverID)", logger: logger, say: say,
                secrets: SecretStore(state: state), workers: workers,
                serve: { [serving, worker] platform in serving.serve(platform, worker: workers.serving(platform) ?? worker) }
            )
            let startup = StartupService(deployer: deployer, engine: engine, initialDeployment: initialDeployment, say: say)
            let engineMonitor = EngineMonitor(engine: engine, telemetry: telemetry, logger: logger, onRecovery: { [logger] in
                do throws(BerthError) { try await deployer.reconcileWithEngine() } catch {
                    logger.warning("reconciling with the engine failed; the next recovery retries", metadata: ["error": "\(error.message)"])
                }
            })
            let listeners = listenerServices(
                deployer: deployer, events: events, telemetry: telemetry, upstreams: upstreams, token: token, serverID: serverID,
                engineMonitor: engineMonitor, tls: (gatewayTLS, adminTLS), say: say, onReady: onReady
            )
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: recorder),
                // Shut down after the listeners: Worker processes stop once nothing is in flight.
                .init(service: WorkersService(workers: workers)),
                .init(service: ContainersService(deployer: deployer, stopContainers: options.stopContainersOnExit, say: say)),
                .init(service: TelemetrySampler(telemetry: telemetry, registry: classes)),
                .init(service: ObjectSweeper(registry: classes)),
                .init(service: engineMonitor),
                // A failed startup shuts the group down gracefully, and its error is thrown.
                .init(service: startup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ]
            services += listeners.map { .init(service: AfterStartup(gate: startup.gate, service: $0)) }
            let reloaded = [gatewayTLS, adminTLS].compactMap { $0 }
            if !reloaded.isEmpty { services.append(.init(service: TLSReloadService(listeners: reloaded, say: say))) }
            // Shut down first: ends the live log streams, which would keep the admin API's
            // connections open.
            services.append(.init(service: StreamCloser(events: events)))
            if let redeploys, let initialDeployment {
                services.append(.init(service: AfterStartup(
                    gate: startup.gate, service: RedeployService(redeploys: redeploys, deployer: deployer, engine: engine, build: initialDeployment, say: say)
                )))
            }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: options.shutdownSignals, logger: logger))
            try await group.run()
        } catch {
            await Self.close(registry: registry, upstreams: upstreams, store: store)
            throw error
        }
        await Self.close(registry: registry, upstreams: upstreams, store: store)
        try? FileManager.default.removeItem(atPath: state.serverFilePath)
    }

    /// The id every container of this server is labelled with, made on the first start.
    static func serverID(_ store: StateStore) async throws(BerthError) -> String {
        if let saved = try await store.meta("server_id") { return saved }
        let created = Deployment.newID() + Deployment.newID()
        try await store.setMeta("server_id", created)
        return created
    }

    /// Closes the proxies' connections and the state store.
    static func close(registry: ClassRegistry?, upstreams: UpstreamPools, store: StateStore) async {
        await registry?.closeConnections()
        await registry?.alarms?.stop()
        upstreams.closeAll()
        await store.close()
    }

    /// The gateway and the admin API.
    private func listenerServices(
        deployer: Deployer, events: InstanceEventHub, telemetry: Telemetry, upstreams: UpstreamPools, token: String, serverID: String,
        engineMonitor: EngineMonitor, tls: (gateway: ListenerTLS?, admin: ListenerTLS?),
        say: @escaping @Sendable (String) -> Void, onReady: @escaping @Sendable (ServerInfo) -> Void
    ) -> [any Service] {
        let state = options.state
        let listening = ListeningPorts()
        let host = options.host
        let adminHost = options.adminHost
        let startedAt = Date()
        let gatewayScheme = tls.gateway == nil ? "http" : "https"
        let adminScheme = tls.admin == nil ? "http" : "https"
        let announce: @Sendable () -> Void = {
            guard let (gateway, admin) = listening.both() else { return }
            let info = ServerInfo(
                serverID: serverID, gatewayURL: "\(gatewayScheme)://\(Self.hostText(host)):\(gateway)",
                adminURL: "\(adminScheme)://\(Self.hostText(adminHost)):\(admin)",
                stateDirectory: state.path, pid: getpid(), startedAt: startedAt
            )
            state.writeServerInfo(info)
            say("Ready on \(info.gatewayURL)")
            for listener in [tls.gateway, tls.admin].compactMap({ $0 }) {
                say("TLS on \(listener.title) (HTTP/2 and HTTP/1.1) for \(ListenerTLS.describe(listener.names))")
            }
            say("Admin API on \(info.adminURL)/api (Authorization: Bearer <token from \(state.tokenPath)>)")
            say("Dashboard on \(info.adminURL)/ (log in with that token)")
            onReady(info)
        }
        let gateway = Application(
            responder: ServingResponder(serving: serving),
            server: .berth(limits: options.limits, warm: WarmPath(routing: serving.warmRouting, upstreams: upstreams), tls: tls.gateway),
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
        adminAPI.engineHealth = { engineMonitor.health }
        adminAPI.scheme = adminScheme
        let admin = Application(
            router: adminAPI.router(token: token),
            server: .berth(limits: options.limits, tls: tls.admin),
            configuration: ApplicationConfiguration(address: .hostname(adminHost, port: options.adminPort), serverName: "berth-admin"),
            onServerRunning: { channel in
                listening.setAdmin(channel.localAddress?.port ?? 0)
                announce()
            },
            logger: logger
        )
        return [admin, gateway]
    }

    /// Every client connection takes a descriptor, a warm one a second for its container:
    /// the soft limit goes up to the hard one, and a limit too low for
    /// `berth.limits.max_connections` is said once at start rather than found under load.
    static func raiseOpenFileLimit(atLeast wanted: Int, say: (String) -> Void) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        if limit.rlim_cur != rlim_t.max, limit.rlim_cur < rlim_t(wanted) {
            say("warning: the open-file limit is \(limit.rlim_cur); berth.limits.max_connections wants about \(wanted) (ulimit -n)")
        }
    }

    static func hostText(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}

/// Looks at the listeners' certificate files every second and reads them again when they
/// change (a renewal, a new key): new connections get the new certificates, open ones keep
/// theirs. A change that cannot be used is said, and the previous certificates keep serving.
struct TLSReloadService: Service {
    let listeners: [ListenerTLS]
    let say: @Sendable (String) -> Void

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            for listener in listeners {
                if let message = listener.reloadIfChanged() { say(message) }
            }
        }
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
        for leftover in (try? await deployer.engine.listInstances(labels: [deployer.ownerLabel])) ?? [] {
            await deployer.engine.removeInstance(leftover.containerID)
        }
        await deployer.engine.releaseUnused()
        say("stopped")
    }
}

/// On shutdown, stops the Worker processes (each once its requests in flight have finished).
struct WorkersService: Service {
    let workers: WorkerSupervisor

    func run() async throws {
        try? await gracefulShutdown()
        await workers.shutdown()
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
    let engine: any EngineDriver
    let build: @Sendable (any EngineDriver) async throws(BerthError) -> Deployment
    let say: @Sendable (String) -> Void

    func run() async throws {
        for await _ in redeploys.cancelOnGracefulShutdown() {
            say("rebuilding…")
            do {
                let deployment = try await build(engine)
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
