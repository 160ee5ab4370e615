import AsyncHTTPClient
import BerthAPI
@testable import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthStorage
@testable import BerthServer
import BerthTestSupport
import DockerEngine
import Foundation
import NIOCore
import Testing

/// `berth serve` and the operator commands, as processes against the real engine.
@Suite("berth serve, deploy and the operator commands", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct ServeTests {
    static func project(_ prefix: String, message: String) throws -> ExampleProject {
        try ExampleProject(prefix: prefix, berth: Self.settings(message: message))
    }

    static func settings(message: String) -> String {
        #"{ "instance_get_timeout": "60s", "stop_grace_period": "2s", "classes": { "MyContainer": { "sleep_after": "10m", "env_vars": { "MESSAGE": "\#(message)" } } } }"#
    }

    static func setMessage(_ project: ExampleProject, _ message: String) throws {
        try GatewayFixture.configuration(app: project.app, maxInstances: 5, berth: settings(message: message))
            .write(toFile: project.folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
    }

    /// Runs `body` with a fresh project, removing its containers, images and folder after,
    /// also when it fails.
    static func withProject(_ prefix: String, message: String, _ body: (ExampleProject) async throws -> Void) async throws {
        let project = try Self.project(prefix, message: message)
        do {
            try await body(project)
        } catch {
            await cleanUp(project)
            throw error
        }
        await cleanUp(project)
    }

    /// Removes every container and image of a project.
    static func cleanUp(_ project: ExampleProject) async {
        await cleanUp(app: project.app)
        project.remove()
    }

    /// Removes every container and image labelled with `app`.
    static func cleanUp(app: String) async {
        guard let client = try? DockerClient() else { return }
        for container in (try? await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true, prune: false)
        }
        try? await client.shutdown()
    }

    @Test("deploy, list, a cached redeploy, a gradual rollout of new envVars, images, rollback")
    func deployAndRollOver() async throws {
        try await Self.withProject("serve", message: "one") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let client = try DockerClient()
            defer { Task { try? await client.shutdown() } }
            // Before any deployment, the gateway says what to do.
            let empty = try await server.get("/container/1")
            #expect(empty.status == 503)
            #expect(empty.body.contains("berth deploy"))

            let first = try await berth(["deploy", project.folder, "--json"])
            #expect(first.status == 0, "\(first.errors)")
            let deployment1 = try first.json(DeploymentView.self)
            #expect(deployment1.current)
            #expect(first.errors.contains("step 1/"))

            var ids: [String: String] = [:]
            for name in ["/container/1", "/container/2", "/container/3"] {
                let reply = try await server.get(name)
                #expect(reply.status == 200)
                #expect(reply.body.contains("\"one\""))
                ids[name] = instanceID(in: reply.body)
            }

            let list = try await berth(["containers", "list", "--json", "--project", project.folder])
            #expect(list.status == 0, "\(list.errors)")
            let containers = try list.json([ContainerView].self)
            #expect(containers.count == 1)
            #expect(containers.first?.name == "web")
            #expect(containers.first?.className == "MyContainer")
            #expect(containers.first?.state == .active)
            #expect(containers.first?.liveInstances == 3)
            let table = try await berth(["containers", "list", "--project", project.folder])
            #expect(table.output.hasPrefix("ID  "))
            #expect(table.output.contains("web") && table.output.contains("active"))

            let instances = try await berth(["containers", "instances", "web", "--json", "--project", project.folder]).json([InstanceView].self)
            #expect(Set(instances.map(\.name)) == ["/container/1", "/container/2", "/container/3"])
            #expect(Set(instances.map(\.instance)) == Set(ids.values))
            #expect(instances.allSatisfy { $0.version == deployment1.id && $0.state == "healthy" && $0.location == "local" })

            // A second deploy with nothing changed: every step cached, the same image, and no
            // instance replaced.
            let second = try await berth(["deploy", project.folder, "--json"])
            #expect(second.status == 0, "\(second.errors)")
            let deployment2 = try second.json(DeploymentView.self)
            #expect(second.errors.contains("(cached)"))
            let image1 = try await client.inspectImage(try #require(deployment1.images["web"]))
            let image2 = try await client.inspectImage(try #require(deployment2.images["web"]))
            #expect(image1.id == image2.id)
            #expect(deployment2.progress.replaced == 0)
            let unchanged = try await berth(["containers", "list", "--json", "--project", project.folder]).json([ContainerView].self)
            #expect(unchanged.first?.lastModified == deployment1.createdAt, "nothing changed: still last modified by the first deployment")
            for (name, id) in ids { #expect(instanceID(in: try await server.get(name).body) == id) }

            // New envVars: a gradual rollout replaces every running instance, in steps.
            try Self.setMessage(project, "two")
            let third = try await berth(["deploy", project.folder, "--json"])
            #expect(third.status == 0, "\(third.errors)")
            let deployment3 = try third.json(DeploymentView.self)
            #expect(deployment3.progress.state == .done)
            #expect(deployment3.progress.total == 3)
            #expect(deployment3.progress.replaced == 3)
            #expect(deployment3.progress.steps == [10, 100])
            #expect(third.errors.contains("step 1/2"))
            for (name, id) in ids {
                let reply = try await server.get(name)
                #expect(reply.body.contains("\"two\""), "\(reply.body)")
                #expect(instanceID(in: reply.body) != id)
            }
            #expect(try await client.listContainers(labels: ["\(BerthLabel.app)=\(project.app)"]).count == 3)
            let after = try await berth(["containers", "instances", "web", "--json", "--project", project.folder]).json([InstanceView].self)
            #expect(after.count == 3 && after.allSatisfy { $0.version == deployment3.id })
            let changed = try await berth(["containers", "list", "--json", "--project", project.folder]).json([ContainerView].self)
            #expect(changed.first?.lastModified == deployment3.createdAt)

            // Images: the deployments' tags are listed; the current one cannot be deleted, an
            // older one can.
            let images = try await berth(["containers", "images", "list", "--json", "--project", project.folder]).json([ImageView].self)
            let tags = Set(images.filter { $0.repository == "berth.local/\(project.app)/web" }.map(\.tag))
            #expect(tags.isSuperset(of: [deployment1.id, deployment2.id, deployment3.id]))
            let filtered = try await berth(["containers", "images", "list", "--filter", deployment1.id, "--project", project.folder])
            #expect(filtered.output.contains(deployment1.id) && !filtered.output.contains(deployment3.id))
            let refused = try await berth(["containers", "images", "delete", "berth.local/\(project.app)/web:\(deployment3.id)", "-y", "--project", project.folder])
            #expect(refused.status == 1)
            #expect(refused.errors.contains("current deployment"))
            let deleted = try await berth(["containers", "images", "delete", "berth.local/\(project.app)/web:\(deployment2.id)", "-y", "--project", project.folder])
            #expect(deleted.status == 0, "\(deleted.errors)")
            let remaining = try await berth(["containers", "images", "list", "--json", "--project", project.folder]).json([ImageView].self)
            #expect(!remaining.contains { $0.tag == deployment2.id })

            // Rollback to the first deployment's content: "one" again.
            let rollback = try await berth(["rollback", deployment1.id, "--containers-rollout", "immediate", "--project", project.folder])
            #expect(rollback.status == 0, "\(rollback.errors)")
            #expect(try await server.get("/container/1").body.contains("\"one\""))
            let history = try await berth(["deployments", "list", "--json", "--project", project.folder]).json([DeploymentView].self)
            #expect(history.count == 4)
            #expect(history.first?.source == "rollback" && history.first?.rollbackOf == deployment1.id && history.first?.current == true)
        }
    }

    @Test("kill -9 and a restart: the same object keeps its instance, orphans are removed")
    func restartAdopts() async throws {
        try await Self.withProject("adopt", message: "adopt") { project in
            let client = try DockerClient()
            defer { Task { try? await client.shutdown() } }
            var server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            // The deploy also pushes to a registry (Debian's docker-registry, with credentials).
            let registry = try LocalRegistry()
            defer { registry.stop() }
            try await registry.waitUntilReady()
            let credentials = ["BERTH_REGISTRY_USERNAME": registry.username, "BERTH_REGISTRY_PASSWORD": registry.password]
            let deploy = try await berth(["deploy", project.folder, "--registry", registry.address, "--json"], environment: credentials)
            #expect(deploy.status == 0, "\(deploy.errors)")
            let deployed = try deploy.json(DeploymentView.self)
            #expect(try await registry.tags("\(project.app)/web").contains(deployed.id))
            #expect(deploy.errors.contains("pushed \(registry.address)/\(project.app)/web:\(deployed.id)"))
            let alias = try await client.listImages(reference: "\(registry.address)/\(project.app)/web")
            #expect(alias.isEmpty, "the registry's tag goes once pushed; the image keeps Berth's own: \(alias.map(\.repoTags))")
            let before = try #require(instanceID(in: try await server.get("/container/kept").body))
            let info = try await server.admin("/api/server", token: server.token)
            let serverID = try #require((try JSONSerialization.jsonObject(with: Data(info.body.utf8)) as? [String: Any])?["server_id"] as? String)

            // An orphan of a deployment the server never made, and a stopped leftover.
            let image = try #require(try await client.listImages(labels: ["\(BerthLabel.app)=\(project.app)"]).first?.id)
            var orphan = ContainerSpec(image: image)
            orphan.labels = [
                BerthLabel.app: project.app, "berth.server": serverID, BerthLabel.deployment: "unknown", BerthLabel.className: "MyContainer",
                BerthLabel.object: String(repeating: "a", count: 64), BerthLabel.instance: "orphan",
            ]
            orphan.publishedPorts = [8080]
            orphan.publishAddress = "127.0.0.1"
            let orphanID = try await client.createContainer(orphan)
            try await client.startContainer(orphanID)
            var leftover = orphan
            leftover.labels[BerthLabel.instance] = "leftover"
            let leftoverID = try await client.createContainer(leftover)

            server.kill9()
            server = try await ServerProcess.start(folder: project.folder)
            #expect(server.output.contains { $0.contains("1 running instance(s) adopted, 1 orphan(s) stopped, 1 stopped container(s) removed") })
            let after = try await server.get("/container/kept")
            #expect(after.status == 200)
            #expect(instanceID(in: after.body) == before)
            let objectID = ObjectID.fromName("/container/kept", className: "MyContainer", app: project.app).hex
            let containers = try await client.listContainers(all: true, labels: ["\(BerthLabel.object)=\(objectID)"])
            #expect(containers.count == 1)
            let all = try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(project.app)"]).map(\.id)
            #expect(!all.contains(orphanID) && !all.contains(leftoverID))
            let instances = try await berth(["containers", "instances", "web", "--json", "--project", project.folder]).json([InstanceView].self)
            #expect(instances.map(\.instance) == [before])

            // SIGTERM: a clean exit; containers keep running and the next start adopts them.
            server.stop()
            #expect(server.process.terminationStatus == 0)
            #expect(!FileManager.default.fileExists(atPath: project.folder + "/.berth/server.json"))
            #expect(try await client.listContainers(labels: ["\(BerthLabel.object)=\(objectID)"]).count == 1)
            server = try await ServerProcess.start(folder: project.folder)
            #expect(instanceID(in: try await server.get("/container/kept").body) == before)
        }
    }

    @Test("the admin API needs the token; errors are one line with a meaningful exit code; tail; delete")
    func tokenErrorsTailDelete() async throws {
        try await Self.withProject("admin", message: "admin") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let mode = try FileManager.default.attributesOfItem(atPath: project.folder + "/.berth/admin-token")[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(!server.output.joined().contains(server.token))
            for path in ["/api/containers", "/api/deployments", "/api/images", "/api/server", "/api/logs", "/api/nothing"] {
                #expect(try await server.admin(path, token: nil).status == 401, "\(path)")
                #expect(try await server.admin(path, token: "wrong").status == 401, "\(path)")
            }
            #expect(try await server.admin("/api/containers", token: server.token).status == 200)

            let wrong = try await berth(["containers", "list", "--project", project.folder, "--token", "wrong"])
            #expect(wrong.status == 4)
            #expect(wrong.errors.contains("admin token is wrong"))
            let unreachable = try await berth(["containers", "list", "--server", "http://127.0.0.1:1", "--token", "t"])
            #expect(unreachable.status == 3)
            #expect(unreachable.errors.contains("cannot reach the Berth server at http://127.0.0.1:1"))
            let noServer = try await berth(["containers", "list", "--project", NSTemporaryDirectory()])
            #expect(noServer.status == 3)
            #expect(noServer.errors.contains("berth serve"))

            #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
            let unknown = try await berth(["containers", "info", "nope", "--project", project.folder])
            #expect(unknown.status == 1)
            #expect(unknown.errors.contains("no container nope; containers: web"))
            let info = try await berth(["containers", "info", "web", "--project", project.folder])
            #expect(info.output.contains("MyContainer") && info.output.contains("BINDINGS"))

            // tail: a running instance's stdout and stderr, and an instance that starts later.
            #expect(try await server.get("/container/early").status == 200)
            // The tail runs until interrupted: it attaches, output is made (the late instance
            // starts meanwhile), and two seconds after the last line it is ended.
            let stopTail = Interrupter()
            let tailing = Task {
                try await berth(["tail", "web", "--json", "--project", project.folder], interruptAfter: .seconds(60), interrupter: stopTail)
            }
            try await Task.sleep(for: .seconds(1))
            _ = try await server.get("/container/early?/log/early-line")
            _ = try await server.get("/container/late?/warn/late-warning")
            try await Task.sleep(for: .seconds(2))
            stopTail.fire()
            let tail = try await tailing.value
            let lines = tail.output.split(separator: "\n").compactMap { try? JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            #expect(lines.contains { $0.type == "log" && $0.object == "/container/early" && $0.stream == "stdout" && $0.line == "early-line" }, "\(tail.output)")
            #expect(lines.contains { $0.type == "log" && $0.object == "/container/late" && $0.stream == "stderr" && $0.line == "late-warning" }, "\(tail.output)")

            // delete: every instance stops; requests fail with a reason until the next deploy.
            let deleted = try await berth(["containers", "delete", "web", "-y", "--project", project.folder])
            #expect(deleted.status == 0, "\(deleted.errors)")
            #expect(deleted.output.contains("2 instance(s) stopped"))
            let client = try DockerClient()
            #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(project.app)"]).isEmpty)
            try await client.shutdown()
            let refused = try await server.get("/container/early")
            #expect(refused.status == 503)
            #expect(refused.body.contains("was deleted"))
            let listed = try await berth(["containers", "list", "--json", "--project", project.folder]).json([ContainerView].self)
            #expect(listed.first?.state == .deleted)
            #expect(try await berth(["deploy", project.folder]).status == 0)
            #expect(try await server.get("/container/early").status == 200)

            // Objects' storage outlived that delete; --purge removes it and says so.
            #expect(deleted.output.contains("storage of its objects stays"), "\(deleted.output)")
            let classFolder = project.folder + "/.berth/objects/MyContainer"
            let hex = String(repeating: "ab", count: 32)
            try ObjectStorageRoot(folder: project.folder + "/.berth/objects").storage(className: "MyContainer", objectHex: hex).put("k", [1])
            let purged = try await berth(["containers", "delete", "web", "-y", "--purge", "--project", project.folder])
            #expect(purged.status == 0, "\(purged.errors)")
            #expect(purged.output.contains("Removed the storage of 1 object(s) and 0 alarm(s) of class MyContainer"), "\(purged.output)")
            #expect(!FileManager.default.fileExists(atPath: classFolder))
        }
    }

    @Test("containers build --push and containers push reach an OCI registry")
    func buildAndPush() async throws {
        try await Self.withProject("push", message: "push") { project in
            let registry = try LocalRegistry()
            defer { registry.stop() }
            try await registry.waitUntilReady()
            let credentials = ["BERTH_REGISTRY_USERNAME": registry.username, "BERTH_REGISTRY_PASSWORD": registry.password]
            let built = try await berth(["containers", "build", project.folder, "-t", "\(project.app):v1", "--push", "--registry", registry.address], environment: credentials)
            #expect(built.status == 0, "\(built.errors)")
            #expect(built.output.contains("step 1/"))
            #expect(built.output.contains("Pushed \(registry.address)/\(project.app):v1"))
            #expect(try await registry.tags(project.app).contains("v1"))
            let client = try DockerClient()
            defer { Task { try? await client.shutdown() } }
            try await client.tagImage("\(project.app):v1", repository: project.app, tag: "v2")
            let pushed = try await berth(["containers", "push", "\(project.app):v2", "--registry", registry.address], environment: credentials)
            #expect(pushed.status == 0, "\(pushed.errors)")
            #expect(try await registry.tags(project.app).contains("v2"))
            #expect(try await client.listImages(reference: "\(project.app):v2").count == 1, "the pushed image keeps its own tag")
            let refused = try await berth(["containers", "push", "\(project.app):v2", "--registry", registry.address])
            #expect(refused.status == 1, "no credentials: the registry refuses")
            let missing = try await berth(["containers", "push", "\(project.app):nope", "--registry", registry.address])
            #expect(missing.status == 1)
            #expect(missing.errors.contains("no image \(project.app):nope"))
            let noRegistry = try await berth(["containers", "push", "\(project.app):v2"])
            #expect(noRegistry.errors.contains("--registry"))
        }
    }

    struct Line: Decodable {
        var type: String
        var object: String
        var stream: String?
        var line: String?
    }
}
