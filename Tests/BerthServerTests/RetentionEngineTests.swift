import BerthAPI
import BerthCore
import DockerEngine
import Foundation
import Testing

/// `berth.retention` against the real engine: `berth serve` and `berth deploy` as processes.
@Suite("berth.retention on the engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct RetentionEngineTests {
    @Test("after N+2 deploys only N deployments and their images remain, the serving one answers, rollback to a pruned one says so")
    func keepsTheLastN() async throws {
        let berthSettings = #"{ "instance_get_timeout": "60s", "stop_grace_period": "2s", "retention": { "deployments": 2 } }"#
        let project = try ExampleProject(prefix: "retain", berth: berthSettings)
        do {
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let client = try DockerClient()
            defer { Task { try? await client.shutdown() } }
            var ids: [String] = []
            for version in 1...4 {
                try project.writeDockerfile(label: "version=\(version)")
                let deploy = try await berth(["deploy", project.folder, "--containers-rollout", "immediate", "--json"])
                #expect(deploy.status == 0, "\(deploy.errors)")
                ids.append(try deploy.json(DeploymentView.self).id)
                #expect(try await server.get("/container/1").status == 200)
            }
            let history = try await berth(["deployments", "list", "--json", "--project", project.folder]).json([DeploymentView].self)
            #expect(history.map(\.id) == [ids[3], ids[2]])
            let tags = Set(try await client.listImages(labels: ["\(BerthLabel.app)=\(project.app)"]).flatMap(\.repoTags))
            #expect(tags == Set(ids.suffix(2).map { "berth.local/\(project.app)/web:\($0)" }))
            let reply = try await server.get("/container/1")
            #expect(reply.status == 200)
            let said = server.output.filter { $0.contains("beyond berth.retention.deployments") }.joined(separator: "\n")
            #expect(said.contains(ids[0]) && said.contains(ids[1]) && !said.contains(ids[2]), "the server says what it pruned: \(said)")

            let rollback = try await berth(["rollback", ids[0], "--project", project.folder])
            #expect(rollback.status == 1)
            #expect(rollback.errors.contains("was pruned") && rollback.errors.contains("berth.retention"), "\(rollback.errors)")
        } catch {
            await Self.cleanUp(project)
            throw error
        }
        await Self.cleanUp(project)
    }

    /// The project's containers and images, and the parent layers their removal leaves dangling.
    static func cleanUp(_ project: ExampleProject) async {
        await ServeTests.cleanUp(project)
        guard let client = try? DockerClient() else { return }
        _ = try? await client.pruneImages(labels: ["\(BerthLabel.app)=\(project.app)"])
        try? await client.shutdown()
    }
}
