import Berth
import BerthConfig
import BerthCore
import BerthRuntime
import DockerEngine
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// Serves a project: builds its images, starts the gateway, and on SIGTERM or SIGINT stops
/// accepting, lets requests in flight finish, then stops and removes every container it
/// started. `berth dev` is this.
public struct ProjectServer: Sendable {
    public var config: ProjectConfig
    public var host: String
    public var port: Int
    public var logger: Logger
    /// A Swift Worker; without one, the configuration's routes serve.
    public var worker: (any Worker)?
    /// Swift ``Container`` types by class name.
    public var containerTypes: [String: any Container.Type]
    /// Each element rebuilds the images; running containers are stopped and start again,
    /// from the new image, on their next request.
    public var rebuilds: AsyncStream<Void>?
    /// Signals that shut the server down gracefully.
    public var shutdownSignals: [UnixSignal] = [.sigterm, .sigint]

    public init(
        config: ProjectConfig, host: String, port: Int, logger: Logger, worker: (any Worker)? = nil,
        containerTypes: [String: any Container.Type] = [:]
    ) {
        self.config = config
        self.host = host
        self.port = port
        self.logger = logger
        self.worker = worker
        self.containerTypes = containerTypes
    }

    /// Runs until a shutdown signal. `say` gets the lines a person follows (build steps,
    /// the URL); `onReady` the port the gateway listens on.
    public func run(client: DockerClient, say: @escaping @Sendable (String) -> Void, onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        try await client.ping()
        let runtime = DockerRuntime(client: client, logger: logger)
        try await removeLeftovers(runtime, say: say)

        let images = try await buildImages(client: client, say: say)
        let platform = try Platform(config: config, images: images, runtime: runtime, logger: logger, containerTypes: containerTypes)
        let host = self.host
        let app = Application(
            responder: GatewayResponder(worker: AnyWorker(worker ?? RoutesWorker(routes: platform.routes, appName: config.name)), env: platform.env),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "berth"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                say("Ready on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
                for route in platform.routes.configs { say("  \(route.prefix)  →  \(route.binding) (object by \(route.object))") }
                onReady(port)
            },
            logger: logger
        )
        let containers = ContainersService(platform: platform, runtime: runtime, app: config.name, say: say)
        var services: [any Service] = [containers, app]
        if let rebuilds {
            let server = self
            services.append(RebuildService(
                rebuilds: rebuilds, platform: platform, build: { try await server.buildImages(client: client, say: say) }, say: say
            ))
        }
        // Shutdown runs in reverse order: the gateway stops first, then the containers.
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: shutdownSignals, logger: logger))
        try await group.run()
    }

    /// Builds every image, a line per step.
    func buildImages(client: DockerClient, say: @escaping @Sendable (String) -> Void) async throws(BerthError) -> [String: BuiltImage] {
        try await ImageBuilder(client: client).buildAll(config, version: "dev") { name, event in
            switch event {
            case .step(let number, let total, let instruction): say("[\(name)] step \(number)/\(total): \(instruction)")
            case .cacheHit: say("[\(name)]   (cached)")
            case .output(let line) where !line.hasPrefix("--->") && !line.hasPrefix("Removing intermediate"): say("[\(name)]   \(line)")
            default: break
            }
        }
    }

    /// Containers of this app left by a run that did not shut down cleanly.
    func removeLeftovers(_ runtime: DockerRuntime, say: (String) -> Void) async throws(BerthError) {
        let leftovers = try await runtime.listInstances(labels: ["\(BerthLabel.app)=\(config.name)"])
        guard !leftovers.isEmpty else { return }
        say("removing \(leftovers.count) container(s) left by an earlier run")
        for leftover in leftovers { await runtime.removeInstance(leftover.containerID) }
    }
}

/// Owns the containers' lifetime: on shutdown, stops every container (SIGTERM, grace,
/// SIGKILL) and removes what is left.
struct ContainersService: Service {
    let platform: Platform
    let runtime: DockerRuntime
    let app: String
    let say: @Sendable (String) -> Void

    func run() async throws {
        try? await gracefulShutdown()
        say("stopping containers…")
        await platform.shutdown()
        for leftover in (try? await runtime.listInstances(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            await runtime.removeInstance(leftover.containerID)
        }
        say("stopped")
    }
}

/// Rebuilds the images on request: new instances start from the new images, and running
/// containers are stopped so that their next request starts them from it.
struct RebuildService: Service {
    let rebuilds: AsyncStream<Void>
    let platform: Platform
    let build: @Sendable () async throws -> [String: BuiltImage]
    let say: @Sendable (String) -> Void

    func run() async throws {
        for await _ in rebuilds.cancelOnGracefulShutdown() {
            say("rebuilding…")
            do {
                let images = try await build()
                for container in platform.config.containers {
                    if let image = images[container.name] { platform.classes[container.className]?.setImage(image.reference) }
                }
                await withTaskGroup(of: Void.self) { group in
                    for containerClass in platform.classes.values { group.addTask { await containerClass.stopAll() } }
                }
                say("rebuilt; containers start from the new image on their next request")
            } catch {
                say("rebuild failed: \(BerthError.wrap(error).message)")
            }
        }
    }
}
