import AsyncHTTPClient
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import DockerEngine
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A Berth server in this process (its gateway on a loopback port) serving a copy of the
/// example, the engine client for the baselines, and an HTTP client for the load.
final class Harness: @unchecked Sendable {
    let quick: Bool
    let repository: String
    let folder: String
    let client: DockerClient
    let http: HTTPClient
    let gateway: String
    /// The same deployment served through a Swift Worker.
    var workerGateway = ""
    /// The gateway whose Worker runs in a process of its own.
    var workerProcessGateway = ""
    var workerProcessTask: Task<Void, any Error>?
    var stopWorkerProcess: (@Sendable () async -> Void)?
    /// What the bench's server serves (the Worker gateways' deployment).
    var serving: ServingState?
    let app: String
    let image: String
    /// The class's instance type: the engine baseline runs with the same limits.
    var limits: (memoryBytes: Int64, nanoCPUs: Int64) = (0, 0)
    var serverTask: Task<Void, any Error>?
    var workerTask: Task<Void, any Error>?

    init(quick: Bool, repository: String, folder: String, client: DockerClient, http: HTTPClient, gateway: String, app: String, image: String) {
        self.quick = quick
        self.repository = repository
        self.folder = folder
        self.client = client
        self.http = http
        self.gateway = gateway
        self.app = app
        self.image = image
    }

    static func start(repository: String, quick: Bool) async throws -> Harness {
        let app = "bench-\(Deployment.newID())"
        let folder = NSTemporaryDirectory() + app
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repository + "/examples/hello/server", toPath: folder + "/server")
        try "FROM scratch\nCOPY server /server\nEXPOSE 8080\nCMD [\"/server\"]\n".write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
        try """
            {
              "name": "\(app)",
              "containers": [{ "name": "web", "class_name": "Web", "image": "./Dockerfile", "max_instances": 1000, "instance_type": "standard-4" }],
              "durable_objects": { "bindings": [{ "name": "WEB", "class_name": "Web" }] },
              "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Web"] }],
              "berth": { "instance_get_timeout": "120s", "port_ready_timeout": "60s", "stop_grace_period": "1s",
                         "classes": { "Web": { "sleep_after": "30m" } } }
            }
            """.write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(folder: folder).get()
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let client = try DockerClient(logger: logger)
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 2000)
        configuration.timeout = .init(connect: .seconds(30), read: .seconds(120))
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)

        var options = ServerOptions(state: StateDirectory(path: folder + "/.berth"))
        options.port = 0
        options.adminPort = 0
        options.stopContainersOnExit = true
        options.shutdownSignals = []
        var server = PlatformServer(options: options, logger: logger)
        let serving = server.serving
        let imageTag = ImageBuilder.tag(app: app, container: "web", version: "bench")
        server.initialDeployment = { engine async throws(BerthError) in
            let images = try await ImageBuilder(images: engine).buildAll(config, version: "bench")
            return Deployment(id: "bench", config: config, images: images, rollout: .immediate, source: "bench")
        }
        let (ready, continuation) = AsyncStream.makeStream(of: ServerInfo.self)
        let task = Task {
            try await server.run(engine: DockerRuntime(client: client, logger: logger), say: { _ in }, onReady: { continuation.yield($0) })
        }
        var iterator = ready.makeAsyncIterator()
        guard let info = await iterator.next() else { throw BerthError(.internal, "the bench server did not start") }
        let harness = Harness(quick: quick, repository: repository, folder: folder, client: client, http: http, gateway: info.gatewayURL, app: app, image: imageTag)
        harness.serverTask = task
        harness.serving = serving
        let inProcess = try await startWorkerGateway(WorkerGateway(serving: serving), name: "berth-bench-worker", logger: logger)
        harness.workerGateway = inProcess.0
        harness.workerTask = inProcess.1
        // The same Worker in a process of its own, over its link (what a deployed Swift Worker is).
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let spawned = try await ProcessWorker.spawn(executable: executable, logger: logger, deadline: .seconds(60), say: { _ in })
        harness.stopWorkerProcess = spawned.stop
        guard let current = serving.current else { throw BerthError(.internal, "the bench server serves nothing") }
        _ = try await spawned.worker.start(serving: current.platform)
        let outOfProcess = try await startWorkerGateway(WorkerGateway(serving: serving, worker: spawned.worker), name: "berth-bench-worker-process", logger: logger)
        harness.workerProcessGateway = outOfProcess.0
        harness.workerProcessTask = outOfProcess.1
        // The same limits Berth's Docker driver applies: the instance type's, capped to the engine.
        let type = config.containers[0].instanceType
        let engine = try await client.info()
        harness.limits = (min(Int64(type.memoryMiB) << 20, engine.memoryBytes), min(Int64(type.vcpu * 1_000_000_000), Int64(engine.cpus) * 1_000_000_000))
        return harness
    }

    /// A gateway serving `responder` on a loopback port: its URL and the task serving it.
    static func startWorkerGateway(_ responder: WorkerGateway, name: String, logger: Logger) async throws -> (String, Task<Void, any Error>) {
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { port.yield($0.localAddress?.port ?? 0) },
            logger: logger
        )
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let listening = await iterator.next() else { throw BerthError(.internal, "the bench's gateway \(name) did not start") }
        return ("http://127.0.0.1:\(listening)", task)
    }

    func stop() async {
        workerTask?.cancel()
        _ = try? await workerTask?.value
        workerProcessTask?.cancel()
        _ = try? await workerProcessTask?.value
        await stopWorkerProcess?()
        serverTask?.cancel()
        _ = try? await serverTask?.value
        await removeAll(of: app)
        for container in (try? await client.listContainers(all: true, labels: ["berth.bench=\(app)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        try? await http.shutdown()
        try? await client.shutdown()
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Every container and image of `app` (the bench's own project, or a scenario's).
    func removeAll(of app: String) async {
        for container in (try? await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            _ = try? await client.removeImage(image.id, force: true)
        }
    }

    /// One GET, returning its status and the time to the whole response.
    func get(_ url: String) async throws -> (UInt, Duration) {
        let started = ContinuousClock.now
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(120))
        _ = try await response.body.collect(upTo: 4 << 20)
        return (response.status.code, started.duration(to: .now))
    }

    /// The host port of the running container of a named object.
    func publishedPort(object name: String) async throws -> Int {
        let id = ObjectID.fromName(name, className: "Web", app: app).hex
        guard let container = try await client.listContainers(labels: ["\(BerthLabel.object)=\(id)"]).first else {
            throw BerthError(.notFound, "no container for \(name)")
        }
        guard let port = try await client.inspectContainer(container.id).hostPort(for: 8080) else {
            throw BerthError(.notFound, "no published port for \(name)")
        }
        return port
    }

    /// The address of the running container of a named object on its network (where
    /// Berth's proxy reaches it).
    func containerAddress(object name: String, app: String? = nil) async throws -> String {
        let id = ObjectID.fromName(name, className: "Web", app: app ?? self.app).hex
        guard let container = try await client.listContainers(labels: ["\(BerthLabel.object)=\(id)"]).first,
              let address = try await client.inspectContainer(container.id).networkAddresses.values.first
        else { throw BerthError(.notFound, "no container address for \(name)") }
        return address
    }

    /// The engine's own start of the same image: create, start, then poll until the port
    /// answers an HTTP request, as Berth's readiness probe does. Returns the time and the id.
    func engineStart() async throws -> (Duration, String) {
        let started = ContinuousClock.now
        var spec = ContainerSpec(image: image)
        spec.publishedPorts = [8080]
        spec.publishAddress = "127.0.0.1"
        spec.labels = ["berth.bench": app]
        spec.memoryBytes = limits.memoryBytes
        spec.nanoCPUs = limits.nanoCPUs
        let id = try await client.createContainer(spec)
        try await client.startContainer(id)
        guard let port = try await client.inspectContainer(id).hostPort(for: 8080) else { throw BerthError(.notFound, "no port") }
        var delay = Duration.milliseconds(2)
        while true {
            if let (status, _) = try? await get("http://127.0.0.1:\(port)/ping"), status > 0 { break }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(50))
        }
        return (started.duration(to: .now), id)
    }
}
