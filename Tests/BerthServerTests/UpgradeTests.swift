import BerthAPI
import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import Testing

/// A new Berth taking over from an older one: `berth serve` started on a state folder written
/// by the schema of before versioning (Tests/Fixtures/state-v0, made by a real deployment of
/// that code), with the containers that server left running, as it labelled them.
@Suite("berth serve on the state of an older Berth", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct UpgradeTests {
    static let fixture = ExampleServer.repository.appendingPathComponent("Tests/Fixtures/state-v0").path
    /// The fixture project's `name`: the label of everything this test makes.
    static let app = "berth-upgrade-fixture"

    /// A container as the older server made it (containers.json).
    struct Planted: Decodable {
        var labels: [String: String]
        var env: [String]
    }

    @Test("migrates the state store and adopts every running container without restarting it")
    func migratesAndAdopts() async throws {
        await ServeTests.cleanUp(app: Self.app)
        let folder = NSTemporaryDirectory() + "berth-upgrade-\(UUID().uuidString.prefix(8))"
        do {
            try await Self.upgrade(folder)
        } catch {
            await ServeTests.cleanUp(app: Self.app)
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        await ServeTests.cleanUp(app: Self.app)
        try? FileManager.default.removeItem(atPath: folder)
    }

    private static func upgrade(_ folder: String) async throws {
        let files = FileManager.default
        try files.createDirectory(atPath: folder + "/.berth", withIntermediateDirectories: true)
        for name in ["wrangler.jsonc", "Dockerfile"] { try files.copyItem(atPath: fixture + "/" + name, toPath: folder + "/" + name) }
        try files.copyItem(atPath: try ExampleServer.binary(), toPath: folder + "/server")
        try files.copyItem(atPath: fixture + "/state.sqlite", toPath: folder + "/.berth/state.sqlite")
        let planted = try JSONDecoder().decode([Planted].self, from: Data(contentsOf: URL(fileURLWithPath: fixture + "/containers.json")))
        #expect(planted.count == 2)

        // The image the fixture's deployment names, and its containers running as the older
        // server left them.
        let client = try DockerClient()
        defer { Task { try? await client.shutdown() } }
        let deployment = try #require(planted.first?.labels[BerthLabel.deployment])
        let reference = "berth.local/\(app)/web:\(deployment)"
        var build = BuildOptions(contextDirectory: folder, tags: [reference])
        build.labels = [BerthLabel.app: app, BerthLabel.container: "web"]
        _ = try await client.buildImage(build)
        var started: [String: (id: String, startedAt: String)] = [:]
        for container in planted {
            var spec = ContainerSpec(image: reference)
            spec.labels = container.labels
            spec.environment = Dictionary(container.env.compactMap { line in
                line.firstIndex(of: "=").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) }
            }, uniquingKeysWith: { $1 })
            spec.publishedPorts = [8080]
            spec.publishAddress = "127.0.0.1"
            let id = try await client.createContainer(spec)
            try await client.startContainer(id)
            let name = try #require(container.labels[BerthLabel.objectName])
            started[name] = (id, try await client.inspectContainer(id).state.startedAt)
        }

        let server = try await ServerProcess.start(folder: folder)
        defer { server.stop() }
        #expect(server.output.contains { $0.contains("migrated: schema version 0 → \(StateStore.schemaVersion)") }, "\(server.output)")
        #expect(server.output.contains { $0.contains("2 running instance(s) adopted") }, "\(server.output)")
        for container in planted {
            let name = try #require(container.labels[BerthLabel.objectName])
            let reply = try await server.get(name)
            #expect(reply.status == 200, "\(name): \(reply.body)")
            #expect(instanceID(in: reply.body) == container.labels[BerthLabel.instance], "the adopted instance answers \(name), not a new one")
            let details = try await client.inspectContainer(try #require(started[name]?.id))
            #expect(details.state.running && details.state.startedAt == started[name]?.startedAt, "\(name): the container was not restarted")
        }
        #expect(Set(try await client.listContainers(labels: ["\(BerthLabel.app)=\(app)"]).map(\.id)) == Set(started.values.map(\.id)))
        // The fixture's deployment still serves: a new object starts from its image.
        let fresh = try await server.get("/container/new")
        #expect(fresh.status == 200, "\(fresh.body)")
        let list = try await berth(["deployments", "list", "--json", "--project", folder])
        #expect(try list.json([DeploymentView].self).map(\.id) == [deployment], "\(list.errors)")
        server.stop()

        // The file now carries the current version (`user_version`, offset 60 of the header).
        let header = try #require(files.contents(atPath: folder + "/.berth/state.sqlite")?.prefix(64))
        #expect(header.suffix(4).reduce(0) { $0 << 8 | Int($1) } == StateStore.schemaVersion)
    }
}
