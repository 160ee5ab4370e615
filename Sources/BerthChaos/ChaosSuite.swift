import AsyncHTTPClient
import BerthCore
import DockerEngine
import Foundation
import Logging
import NIOCore

/// What every scenario shares: the `berth` binary it runs, the engine client it counts
/// containers with, an HTTP client for the load, and what to clean up afterwards.
final class ChaosSuite: @unchecked Sendable {
    let repository: String
    let quick: Bool
    let berth: String
    let out: String
    let engine: DockerClient
    let http: HTTPClient
    let run = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    private let lock = NSLock()
    private var servers: [ServeProcess] = []
    private var apps: [(app: String, engine: DockerClient)] = []
    private var folders: [String] = []

    init(repository: String, quick: Bool) throws {
        self.repository = repository
        self.quick = quick
        out = repository + "/chaos/out"
        berth = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("berth").path
        guard FileManager.default.isExecutableFile(atPath: berth) else {
            throw BerthError(.notFound, "berth-chaos runs \(berth) as separate processes: build it with `swift build --product berth` in the same configuration (make chaos does)")
        }
        for binary in [repository + "/examples/hello/server", out + "/fault"] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw BerthError(.notFound, "\(binary) is missing: `make chaos` builds it")
        }
        try FileManager.default.createDirectory(atPath: out + "/logs", withIntermediateDirectories: true)
        var logger = Logger(label: "chaos")
        logger.logLevel = .error
        engine = try DockerClient(logger: logger)
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 2000)
        // 1,000 connections at once queue in the listener's backlog: a generous connect timeout.
        configuration.timeout = .init(connect: .seconds(60), read: .seconds(120))
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func say(_ text: String) {
        FileHandle.standardError.write(Data("berth-chaos: \(text)\n".utf8))
    }

    /// A project folder under the system's temporary folder: the example server and the
    /// fault program in one FROM-scratch image, and a configuration.
    func project(_ scenario: String, folderName: String? = nil, config: ProjectConfig) throws -> Project {
        let folder = NSTemporaryDirectory() + (folderName ?? "berth-chaos-\(run)-\(scenario)")
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repository + "/examples/hello/server", toPath: folder + "/server")
        try FileManager.default.copyItem(atPath: out + "/fault", toPath: folder + "/fault")
        try "FROM scratch\nCOPY server /server\nCOPY fault /fault\nEXPOSE 8080\nCMD [\"/server\"]\n"
            .write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
        try config.json.write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
        lock.withLock { folders.append(folder) }
        return Project(folder: folder, app: config.name ?? (folder as NSString).lastPathComponent, className: config.className)
    }

    /// `berth serve` on the project, ready to answer; the engine from `dockerHost` when given.
    func serve(_ project: Project, scenario: String, dockerHost: String? = nil, engine: DockerClient? = nil) async throws -> ServeProcess {
        let server = try ServeProcess(
            berth: berth, project: project, log: out + "/logs/\(scenario).log", ports: nil, dockerHost: dockerHost, http: http
        )
        lock.withLock {
            servers.append(server)
            apps.append((project.app, engine ?? self.engine))
        }
        try await server.waitUntilReady()
        return server
    }

    /// `serve`, then `deploy`: the project served and its deployment live.
    func serveDeployed(_ project: Project, scenario: String, dockerHost: String? = nil, engine: DockerClient? = nil) async throws -> ServeProcess {
        let server = try await serve(project, scenario: scenario, dockerHost: dockerHost, engine: engine)
        try await deploy(project, to: server, scenario: scenario)
        return server
    }

    /// The same server started again on the same ports (after `kill -9`), ready.
    func restart(_ server: ServeProcess) async throws -> ServeProcess {
        let next = try server.restarted()
        lock.withLock { servers.append(next) }
        try await next.waitUntilReady()
        return next
    }

    /// A folder to remove at the end of the scenario.
    func track(folder: String) {
        lock.withLock { folders.append(folder) }
    }

    /// Registers a deployment of the project with its server (`berth deploy`, which builds
    /// the image through the same engine).
    func deploy(_ project: Project, to server: ServeProcess, scenario: String) async throws {
        let status = try ServeProcess.runToEnd(
            berth, ["deploy", project.folder, "--containers-rollout", "immediate"], log: out + "/logs/\(scenario).log", dockerHost: server.dockerHost
        )
        guard status == 0 else { throw BerthError(.internal, "berth deploy exited with \(status); see chaos/out/logs/\(scenario).log") }
    }

    /// Labels the containers of an app carry.
    func running(app: String, on engine: DockerClient? = nil) async throws -> [ContainerSummary] {
        try await (engine ?? self.engine).listContainers(all: false, labels: ["\(BerthLabel.app)=\(app)"])
    }

    /// One GET: status, `Retry-After`, body (0 and the error when there was no answer).
    func get(_ url: String, timeout: Duration = .seconds(120)) async -> Answer {
        let started = Date()
        do {
            let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(Int64(timeout.components.seconds)))
            let body = try await response.body.collect(upTo: 1 << 20)
            return Answer(
                status: response.status.code, retryAfter: response.headers.first(name: "retry-after"), body: String(buffer: body),
                started: started, ended: Date()
            )
        } catch {
            return Answer(status: 0, retryAfter: nil, body: "\(error)", started: started, ended: Date())
        }
    }

    /// Stops every server still running (SIGINT: they stop their containers) and removes
    /// every container and image of the apps they served, and their project folders.
    func cleanUp() async {
        let (servers, apps, folders) = lock.withLock {
            defer { self.servers = []; self.apps = []; self.folders = [] }
            return (self.servers, self.apps, self.folders)
        }
        for server in servers { server.stop() }
        for (app, engine) in apps {
            for container in (try? await engine.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
                try? await engine.removeContainer(container.id, force: true)
            }
            // The images `berth deploy` built for it, by their tags (`berth.local/<app>/…`).
            for image in (try? await engine.listImages(reference: "berth.local/\(app.lowercased())/*")) ?? [] {
                for tag in image.repoTags { _ = try? await engine.removeImage(tag) }
            }
        }
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
    }

    func shutdown() async {
        await cleanUp()
        try? await http.shutdown()
        try? await engine.shutdown()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension [Answer] {
    /// `200×3, 503×7`: how many answers had each status.
    var statusSummary: String {
        Dictionary(grouping: self, by: \.status).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
    }
}

extension [ContainerSummary] {
    /// How many object names have more than one of these containers (an object's id also
    /// depends on its app's name, its name does not).
    var duplicateObjects: Int {
        Dictionary(grouping: self) { $0.labels[BerthLabel.objectName] ?? $0.labels[BerthLabel.object] ?? "" }.filter { $0.value.count > 1 }.count
    }
}

/// One HTTP answer as the load saw it.
struct Answer: Sendable {
    var status: UInt
    var retryAfter: String?
    var body: String
    var started: Date
    var ended: Date

    /// Status and the start of the body, for notes.
    var summary: String { "\(status) \(body.trimmingCharacters(in: .whitespacesAndNewlines).prefix(160))" }

    /// The instance id the example server and the fault program print.
    var instance: String? {
        if let range = body.range(of: "my instance ID is: ") { return String(body[range.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines) }
        if body.hasPrefix("fault ") { return String(body.dropFirst(6)).trimmingCharacters(in: .whitespacesAndNewlines) }
        return nil
    }
}

/// A project folder and what it serves.
struct Project: Sendable {
    var folder: String
    var app: String
    var className: String
}

/// A one-class configuration.
struct ProjectConfig {
    /// nil: no `name`, so the app is named after the folder.
    var name: String?
    var className = "Web"
    var maxInstances = 100
    var instanceType: String?
    var sleepAfter = "30m"
    var entrypoint: [String]?
    var berth: [String: String] = ["stop_grace_period": "1s"]
    /// `berth.routes`, as JSON; nil: the template's (`/container/<name>`: the whole path names the object).
    var routes: String?

    var json: String {
        var container = #"{ "name": "web", "class_name": "\#(className)", "image": "./Dockerfile", "max_instances": \#(maxInstances)"#
        if let instanceType { container += #", "instance_type": "\#(instanceType)""# }
        container += " }"
        var classSettings = #""sleep_after": "\#(sleepAfter)""#
        if let entrypoint { classSettings += #", "entrypoint": [\#(entrypoint.map { "\"\($0)\"" }.joined(separator: ", "))]"# }
        let settings = berth.sorted { $0.key < $1.key }.map { #""\#($0.key)": "\#($0.value)", "# }.joined()
        return """
            {
              \(name.map { #""name": "\#($0)","# } ?? "")
              "containers": [\(container)],
              "durable_objects": { "bindings": [{ "name": "WEB", "class_name": "\(className)" }] },
              "migrations": [{ "tag": "v1", "new_sqlite_classes": ["\(className)"] }],
              "berth": { \(settings)\(routes.map { #""routes": \#($0), "# } ?? "")"classes": { "\(className)": { \(classSettings) } } }
            }
            """
    }
}
