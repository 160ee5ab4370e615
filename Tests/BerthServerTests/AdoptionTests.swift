import AsyncHTTPClient
import BerthAPI
import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import Testing

/// Restarts of `berth serve` on one state folder, as processes against the real engine: which
/// object an adopted container belongs to, one server per folder, and adopted containers
/// served only once they answer.
@Suite("berth serve restarts: adoption and the state folder's lock", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct AdoptionTests {
    /// Removes what a project made under another app name.
    static func cleanUp(app: String) async {
        guard let client = try? DockerClient() else { return }
        for container in (try? await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true)
        }
        try? await client.shutdown()
    }

    static func serverID(_ server: ServerProcess) async throws -> String {
        let info = try await server.admin("/api/server", token: server.token)
        return try #require((try JSONSerialization.jsonObject(with: Data(info.body.utf8)) as? [String: Any])?["server_id"] as? String)
    }

    @Test("a state folder that served another app name: kill -9 and a restart keep one container per object")
    func adoptAfterAnotherAppName() async throws {
        try await ServeTests.withProject("appname", message: "appname") { project in
            let renamed = project.app + "-renamed"
            let client = try DockerClient()
            defer { Task { try? await client.shutdown() } }
            var server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let first = try await berth(["deploy", project.folder])
            #expect(first.status == 0, "\(first.errors)")
            // The app's name changes (as a renamed folder without `name` changes it).
            try GatewayFixture.configuration(app: renamed, maxInstances: 5, berth: ServeTests.settings(message: "appname"))
                .write(toFile: project.folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
            let second = try await berth(["deploy", project.folder])
            #expect(second.status == 0, "\(second.errors)")
            do {
                let before = try #require(instanceID(in: try await server.get("/container/keep").body))
                server.kill9()
                server = try await ServerProcess.start(folder: project.folder)
                #expect(server.output.contains { $0.contains("1 running instance(s) adopted") })
                let after = try await server.get("/container/keep")
                #expect(after.status == 200)
                #expect(instanceID(in: after.body) == before, "the adopted instance answers, not a new one")
                let containers = try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(renamed)"])
                #expect(containers.count == 1, "one container for the object: \(containers.map(\.id))")
            } catch {
                await Self.cleanUp(app: renamed)
                throw error
            }
            server.stop()
            await Self.cleanUp(app: renamed)
        }
    }

    @Test("a second server on the same state folder is refused, naming the first; the first's container is untouched")
    func secondServerRefused() async throws {
        try await ServeTests.withProject("lock", message: "lock") { project in
            let client = try DockerClient()
            defer { Task { try? await client.shutdown() } }
            var server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            #expect(try await berth(["deploy", project.folder]).status == 0)
            let before = try #require(instanceID(in: try await server.get("/container/locked").body))
            let containers = try await client.listContainers(labels: ["\(BerthLabel.app)=\(project.app)"]).map(\.id)
            #expect(containers.count == 1)

            let pid = server.process.processIdentifier
            for command in ["serve", "dev"] {
                // Bounded: a second server that is not refused is interrupted after 60 s.
                let second = try await berth([command, project.folder, "--port", "0", "--admin-port", "0"], interruptAfter: .seconds(60))
                #expect(second.status != 0, "\(command): \(second.output)")
                #expect(second.errors.contains("is in use by another Berth server (pid \(pid): "), "\(command): \(second.errors)")
                #expect(second.errors.contains(" serve \(project.folder)"), "\(command): \(second.errors)")
            }
            #expect(try await client.listContainers(labels: ["\(BerthLabel.app)=\(project.app)"]).map(\.id) == containers)
            #expect(instanceID(in: try await server.get("/container/locked").body) == before)

            // kill -9 leaves no lock behind: the next server starts and adopts.
            server.kill9()
            server = try await ServerProcess.start(folder: project.folder)
            #expect(server.output.contains { $0.contains("1 running instance(s) adopted") })
            #expect(instanceID(in: try await server.get("/container/locked").body) == before)
        }
    }
}
