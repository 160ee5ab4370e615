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
                await ServeTests.cleanUp(app: renamed)
                throw error
            }
            server.stop()
            await ServeTests.cleanUp(app: renamed)
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

    @Test("an adopted container serves once its port answers; one that never answers is replaced")
    func adoptionProbesReadiness() async throws {
        let settings = #"{ "instance_get_timeout": "60s", "port_ready_timeout": "10s", "stop_grace_period": "1s" }"#
        let project = try ExampleProject(prefix: "probe", berth: settings)
        // The image also holds busybox, for the containers this test makes as a server would.
        let busybox = try #require(["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.fileExists(atPath: $0) },
                                   "busybox-static is missing: `make test` installs it")
        try FileManager.default.copyItem(atPath: busybox, toPath: project.folder + "/busybox")
        try "FROM scratch\nLABEL berth.test.project=\(project.app)\nCOPY server /server\nCOPY busybox /bin/busybox\nEXPOSE 8080\nCMD [\"/server\"]\n"
            .write(toFile: project.folder + "/Dockerfile", atomically: true, encoding: .utf8)
        do {
            try await Self.adoptAndProbe(project)
        } catch {
            await ServeTests.cleanUp(project)
            throw error
        }
        await ServeTests.cleanUp(project)
    }

    private static func adoptAndProbe(_ project: ExampleProject) async throws {
        let client = try DockerClient()
        defer { Task { try? await client.shutdown() } }
        var server = try await ServerProcess.start(folder: project.folder)
        defer { server.stop() }
        let deploy = try await berth(["deploy", project.folder, "--json"])
        #expect(deploy.status == 0, "\(deploy.errors)")
        let deployed = try deploy.json(DeploymentView.self)
        let serverID = try await serverID(server)
        server.stop()

        // Two containers the server finds running at its next start: one that listens only
        // once the test connects to its port 9090, one that never listens.
        let image = try #require(try await client.listImages(labels: ["\(BerthLabel.app)=\(project.app)"]).first?.id)
        func running(_ name: String, _ script: String) async throws -> String {
            var spec = ContainerSpec(image: image)
            spec.entrypoint = ["/bin/busybox", "sh", "-c", script]
            spec.labels = [
                BerthLabel.app: project.app, "berth.server": serverID, BerthLabel.deployment: deployed.id, BerthLabel.className: "MyContainer",
                BerthLabel.object: ObjectID.fromName("/container/\(name)", className: "MyContainer", app: project.app).hex,
                BerthLabel.objectName: "/container/\(name)", BerthLabel.instance: "adopted-\(name)",
            ]
            spec.publishedPorts = [8080, 9090]
            spec.publishAddress = "127.0.0.1"
            let id = try await client.createContainer(spec)
            try await client.startContainer(id)
            return id
        }
        let bb = "/bin/busybox"
        let late = try await running(
            "late", "\(bb) nc -l -p 9090 > /dev/null; \(bb) mkdir -p /w/container; echo served-by-adopted | \(bb) tee /w/index.html > /w/container/late; exec \(bb) httpd -f -p 8080 -h /w"
        )
        _ = try await running("silent", "exec \(bb) sleep 600")

        server = try await ServerProcess.start(folder: project.folder)
        #expect(server.output.contains { $0.contains("2 running instance(s) adopted") })
        let restarted = server
        async let held = restarted.get("/container/late")
        async let replaced = restarted.get("/container/silent")
        // While its port does not answer, the adopted instance is starting ("running"), not
        // healthy: seen (bounded), then its server is let listen.
        var state = ""
        for _ in 0..<100 {
            let body = try await restarted.admin("/api/containers/web/instances", token: restarted.token).body
            state = try AdminJSON.decoder.decode([InstanceView].self, from: Data(body.utf8)).first { $0.instance == "adopted-late" }?.state ?? ""
            if state == "running" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == "running", "an adopted container is not served before its port answers")
        let trigger = try #require(try await client.inspectContainer(late).ports["9090/tcp"]?.first?.hostPort).flatMap(Int.init)
        let connection = try RawHTTP(port: try #require(trigger))
        try connection.send("go\n")
        connection.hangUp()
        let (answer, fresh) = try await (held, replaced)
        #expect(answer.status == 200)
        #expect(answer.body.contains("served-by-adopted"), "the request waited for the adopted container's port: \(answer.body)")
        #expect(fresh.status == 200, "\(fresh.body)")
        let freshInstance = instanceID(in: fresh.body)
        #expect(freshInstance != nil && freshInstance != "adopted-silent", "a fresh instance answers: \(fresh.body)")
        // Its removal runs beside the fresh start: waited for, bounded.
        var left = try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(project.app)", "\(BerthLabel.instance)=adopted-silent"])
        for _ in 0..<100 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            left = try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(project.app)", "\(BerthLabel.instance)=adopted-silent"])
        }
        #expect(left.isEmpty, "the silent container was removed")
        let object = ObjectID.fromName("/container/silent", className: "MyContainer", app: project.app).hex
        #expect(try await client.listContainers(labels: ["\(BerthLabel.object)=\(object)"]).count == 1)
    }
}
