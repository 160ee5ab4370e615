import AsyncHTTPClient
import Berth
import BerthAPI
import BerthConfig
@testable import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthTestSupport
@testable import BerthServer
import DockerEngine
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

enum Engine {
    static var enabled: Bool {
        let env = ProcessInfo.processInfo.environment
        let required = ["true", "1", "yes"].contains((env["BERTH_REQUIRE_ENGINE"] ?? env["CI"] ?? "").lowercased())
        return required || FileManager.default.fileExists(atPath: DockerHost.defaultSocket) || env["DOCKER_HOST"] != nil
    }
}

/// The example's container server, and other static C servers of the repository, each
/// compiled once per test process.
enum ExampleServer {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let compiled = Mutex<[String: String]>([:])

    static func binary() throws -> String {
        try binary(of: "examples/hello/server.c")
    }

    /// `source`: a path in the repository.
    static func binary(of source: String) throws -> String {
        try compiled.withLock { paths in
            if let path = paths[source] { return path }
            let output = NSTemporaryDirectory() + "berth-\(source.split(separator: "/").last!.prefix { $0 != "." })-\(getpid())"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["gcc", "-static", "-O2", "-pthread", "-o", output, repository.appendingPathComponent(source).path]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw BerthError(.internal, "gcc could not build \(source)") }
            paths[source] = output
            return output
        }
    }
}

/// A throwaway project folder: the example server, a Dockerfile and a wrangler.jsonc.
struct ExampleProject {
    let app: String
    let folder: String

    /// `server`: the container's static binary (default: the example's).
    init(prefix: String, berth: String = "{}", maxInstances: Int = 5, label: String? = nil, server: String? = nil) throws {
        app = prefix + "-" + UUID().uuidString.lowercased().prefix(8)
        folder = NSTemporaryDirectory() + "berth-\(app)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try server ?? ExampleServer.binary(), toPath: folder + "/server")
        try writeDockerfile(label: label)
        try GatewayFixture.configuration(app: app, maxInstances: maxInstances, berth: berth)
            .write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
    }

    /// The Dockerfile, with an optional `LABEL` line to tell builds apart. Its first step is
    /// unique to the project, so no two projects share a layer: removing one project's image
    /// can then never remove a parent layer another project's build is using.
    func writeDockerfile(label: String? = nil) throws {
        let labelLine = label.map { "LABEL \($0)\n" } ?? ""
        try "FROM scratch\nLABEL berth.test.project=\(app)\nCOPY server /server\n\(labelLine)EXPOSE 8080\nCMD [\"/server\"]\n"
            .write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// A project served by an in-process gateway on a loopback port, with its own app name so
/// that its containers are told apart; everything it starts is removed afterwards.
final class GatewayFixture: Sendable {
    let app: String
    let folder: String
    let port: Int
    let platform: Platform
    let client: DockerClient
    /// The warm path's connections to containers, and its counts.
    let upstreams: UpstreamPools

    /// The wrangler.jsonc of the project; `berth` is spliced in as the `"berth"` key.
    static func configuration(app: String, maxInstances: Int, berth: String) -> String {
        exampleConfiguration(app: app, maxInstances: maxInstances, berth: berth)
    }

    static func with(
        maxInstances: Int = 20,
        berth: String = #"{ "classes": { "MyContainer": { "env_vars": { "MESSAGE": "from the test" } } } }"#,
        worker: (any Worker)? = nil,
        makeWorker: (@Sendable (Platform) async throws -> any Worker)? = nil,
        containerTypes: [String: any Container.Type] = [:],
        configure: (inout ProjectConfig) -> Void = { _ in },
        server: String? = nil,
        wrapRuntime: (any ContainerRuntime) -> any ContainerRuntime = { $0 },
        dockerHost: DockerHost? = nil,
        workerHooks: (@Sendable (String, ObjectID) -> any ContainerHooks)? = nil,
        _ body: @Sendable (GatewayFixture) async throws -> Void
    ) async throws {
        let project = try ExampleProject(prefix: "t", berth: berth, maxInstances: maxInstances, server: server)
        let (app, folder) = (project.app, project.folder)
        var config = try ConfigLoader.load(folder: folder).get()
        // These tests are about behaviour, not speed: while many of them build images and start
        // containers at once, the engine can take longer than the default 8 s to start one.
        if !berth.contains("instance_get_timeout") { config.berth.instanceGetTimeout = .seconds(60) }
        configure(&config)

        let client = try dockerHost.map { DockerClient(host: $0) } ?? DockerClient()
        var logger = Logger(label: "berth.test")
        logger.logLevel = .warning
        let runtime = DockerRuntime(client: client, logger: logger)
        do {
            let images = try await ImageBuilder(images: runtime).buildAll(config, version: "test")
            let platform = try Platform(
                config: config, images: images, runtime: wrapRuntime(runtime), logger: logger, containerTypes: containerTypes,
                objectsFolder: folder + "/.berth/objects", alarmRetryBase: .milliseconds(50), workerHooks: workerHooks
            )
            try await platform.registry.startAlarms()
            // The gateway as `berth serve` runs it: requests to healthy containers of zero-code
            // routes take the warm path, the others reach the Worker.
            let routes = RoutesWorker(routes: platform.routes, appName: config.name)
            let classes = platform.bindings
            let worker = try await makeWorker?(platform) ?? worker
            let routing: WarmRouting
            if worker == nil {
                routing = { head in routes.warmLease(for: head, classes: classes) }
            } else {
                routing = { _ in nil }
            }
            let upstreams = UpstreamPools(responseTimeout: config.berth.limits.responseTimeout)
            let application = Application(
                responder: GatewayResponder(worker: AnyWorker(worker ?? routes), env: platform.env),
                server: .berth(limits: config.berth.limits, warm: WarmPath(routing: routing, upstreams: upstreams)),
                configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
                logger: logger
            )
            try await application.test(.live) { testClient in
                let fixture = GatewayFixture(app: app, folder: folder, port: testClient.port!, platform: platform, client: client, upstreams: upstreams)
                defer {}
                do {
                    try await body(fixture)
                } catch {
                    await fixture.cleanUp()
                    throw error
                }
                await fixture.cleanUp()
            }
        } catch {
            try? await client.shutdown()
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        try? await client.shutdown()
        try? FileManager.default.removeItem(atPath: folder)
    }

    private init(app: String, folder: String, port: Int, platform: Platform, client: DockerClient, upstreams: UpstreamPools) {
        self.upstreams = upstreams
        self.app = app
        self.folder = folder
        self.port = port
        self.platform = platform
        self.client = client
    }

    private func cleanUp() async {
        upstreams.closeAll()
        await platform.shutdown()
        for container in (try? await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true, prune: false)
        }
    }

    var myContainer: ContainerClass { platform.classes["MyContainer"]! }

    /// Containers of this fixture's app the engine holds, optionally for one object.
    func engineContainers(object: ObjectID? = nil) async throws -> [ContainerSummary] {
        var labels = ["\(BerthLabel.app)=\(app)"]
        if let object { labels.append("\(BerthLabel.object)=\(object.hex)") }
        return try await client.listContainers(all: true, labels: labels)
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [(String, String)]
        var bytes: ByteBuffer
        var body: String { String(buffer: bytes) }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    func request(_ path: String, method: String = "GET", headers: [(String, String)] = [], body: ByteBuffer? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, bytes: bytes)
    }

    /// Polls `condition` every 50 ms for up to `seconds`.
    func eventually(within seconds: Double, _ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }
}
