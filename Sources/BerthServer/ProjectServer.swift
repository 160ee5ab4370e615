import Berth
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import Logging
import Foundation
import UnixSignals

/// `berth dev`: a ``PlatformServer`` that builds and deploys one project folder as it
/// starts, redeploys on request, and on SIGTERM or SIGINT stops accepting, lets requests in
/// flight finish, then stops and removes every container it started.
public struct ProjectServer: Sendable {
    public var config: ProjectConfig
    public var host: String
    public var port: Int
    /// The admin API's address and port (default: `berth.admin_ip`, `berth.admin_port`).
    public var adminHost: String?
    public var adminPort: Int?
    /// The state folder (default: `berth.state_dir` in the project folder).
    public var stateDirectory: StateDirectory?
    public var logger: Logger
    /// A Swift Worker; without one, the configuration's routes serve.
    public var worker: (any Worker)?
    /// Swift ``Container`` types by class name.
    public var containerTypes: [String: any Container.Type]
    /// Each element rebuilds the images and deploys them; running containers are replaced
    /// at once.
    public var rebuilds: AsyncStream<Void>?
    /// Signals that shut the server down gracefully.
    public var shutdownSignals: [UnixSignal] = [.sigterm, .sigint]
    /// Serve `/metrics` without the admin token.
    public var publicMetrics = false

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
    public func run(engine: any EngineDriver, say: @escaping @Sendable (String) -> Void, onReady: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        var options = ServerOptions(state: stateDirectory ?? StateDirectory(folder: config.folder, stateDir: config.berth.stateDir))
        options.host = host
        options.port = port
        options.adminHost = adminHost ?? config.berth.adminIP
        options.adminPort = adminPort ?? config.berth.adminPort
        options.stopContainersOnExit = true
        options.limits = config.berth.limits
        options.tls = config.berth.tls
        options.shutdownSignals = shutdownSignals
        options.publicMetrics = publicMetrics
        var server = PlatformServer(options: options, logger: logger, worker: worker)
        server.containerTypes = containerTypes
        let config = self.config
        let state = options.state
        server.initialDeployment = { engine async throws(BerthError) in
            let id = Deployment.newID()
            let images = try await ImageBuilder(images: engine).buildAll(config, version: id, progress: ImageBuilder.printer(say))
            let worker = try await Self.buildWorker(config, state: state, say: say)
            return Deployment(id: id, config: config, images: images, rollout: .immediate, source: "dev", worker: worker)
        }
        server.redeploys = rebuilds
        try await server.run(engine: engine, say: say, onReady: { info in
            onReady(Int(info.gatewayURL.split(separator: ":").last ?? "") ?? 0)
            if let folder = WorkerBuilder.packageFolder(config) {
                say("  every request  →  the Swift Worker of \(folder)")
            } else {
                for route in PlatformServer.routeLines(config) { say(route) }
            }
        })
    }
}

extension ProjectServer {
    /// The project's Worker package built in debug (nil when it has none), off the
    /// cooperative pool: the build blocks on the compiler. The build folder is
    /// `BERTH_WORKER_BUILD_PATH`, else the state folder's `worker-build`.
    static func buildWorker(_ config: ProjectConfig, state: StateDirectory, say: @escaping @Sendable (String) -> Void) async throws(BerthError) -> WorkerBuild? {
        guard let folder = WorkerBuilder.packageFolder(config) else { return nil }
        let scratch = WorkerBuilder.scratchPath(fallback: state.workerBuildPath)
        let result: Result<WorkerBuild, BerthError> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Result { () throws(BerthError) in
                    try WorkerBuilder(scratchPath: scratch).build(folder, release: WorkerBuilder.release(default: false), store: state.workersPath, say: say)
                })
            }
        }
        return try result.get()
    }
}

extension PlatformServer {
    /// A line per route of a configuration, for the console.
    static func routeLines(_ config: ProjectConfig) -> [String] {
        var routes = config.berth.routes
        let bindings = config.durableObjects.filter { binding in config.containers.contains { $0.className == binding.className } }
        if routes.isEmpty, bindings.count == 1 { routes = RouteConfig.template(binding: bindings[0].name) }
        return routes.map { "  \($0.prefix)  →  \($0.binding) (object by \($0.object))" }
    }
}
