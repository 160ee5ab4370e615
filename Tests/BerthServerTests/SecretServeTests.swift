import BerthAPI
import BerthCore
import DockerEngine
import Foundation
import Testing

/// `berth secret` against a `berth serve` process and the real engine: the example container
/// answers with its `MESSAGE` environment variable, which a secret sets; nothing Berth prints
/// or serves holds the value.
@Suite("berth secret", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct SecretServeTests {
    @Test("put reaches the container's environment; config check, the admin API, the dashboard, containers info and the server's logs never show it")
    func secretStaysSecret() async throws {
        let value = "s3cr3t-" + Hex.random(bytes: 12)
        let project = try ExampleProject(prefix: "secret", berth: #"{ "instance_get_timeout": "60s", "stop_grace_period": "2s" }"#)
        defer { project.remove() }
        do {
            try await run(project, value: value)
        } catch {
            await ServeTests.cleanUp(app: project.app)
            throw error
        }
        await ServeTests.cleanUp(app: project.app)
    }

    func run(_ project: ExampleProject, value: String) async throws {
        let server = try await ServerProcess.start(folder: project.folder, arguments: ["--log-level", "trace"])
        defer { server.stop() }
        // Outside the project: the folder is the image's build context.
        let input = NSTemporaryDirectory() + "berth-\(project.app)-secret-input"
        defer { try? FileManager.default.removeItem(atPath: input) }
        let selection = ["--project", project.folder]

        // Bad input is refused before anything is sent.
        try "x".write(toFile: input, atomically: true, encoding: .utf8)
        let badName = try await berth(["secret", "put", "1-BAD"] + selection, input: input)
        #expect(badName.status == 1)
        #expect(badName.errors.contains("\"1-BAD\" is not a secret name"), "\(badName.errors)")
        let empty = try await berth(["secret", "put", "MESSAGE"] + selection)
        #expect(empty.status == 1)
        #expect(empty.errors.contains("the secret's value is empty"), "\(empty.errors)")

        #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
        #expect(try await server.get("/container/early").body.contains("my message: \"\""))

        // `echo VALUE | berth secret put MESSAGE`: the trailing newline is not part of it.
        try (value + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let put = try await berth(["secret", "put", "MESSAGE", "--json"] + selection, input: input)
        #expect(put.status == 0, "\(put.errors)")
        let change = try put.json(SecretChange.self)
        #expect(change.secret.name == "MESSAGE" && change.deployment != nil)
        let reply = try await server.get("/container/late")
        #expect(reply.body.contains("my message: \"\(value)\""), "the container's own environment has the secret: \(reply.body)")

        // The engine holds it in the container's configuration: whoever reaches its socket reads it.
        let client = try DockerClient()
        let containers = try await client.listContainers(labels: ["\(BerthLabel.app)=\(project.app)", "\(BerthLabel.objectName)=/container/late"])
        let inspected = try await client.inspectContainer(try #require(containers.first).id)
        #expect(inspected.environmentValue("MESSAGE") == value)
        try await client.shutdown()

        // Everything Berth prints or serves, searched for the value.
        var outputs: [(String, String)] = []
        for arguments in [
            ["config", "check", project.folder], ["config", "check", project.folder, "--json"],
            ["containers", "info", "web"] + selection, ["containers", "info", "web", "--json"] + selection,
            ["containers", "list", "--json"] + selection, ["containers", "instances", "web", "--json"] + selection,
            ["secret", "list"] + selection, ["secret", "list", "--json"] + selection, ["deployments", "list", "--json"] + selection,
        ] {
            let result = try await berth(arguments)
            #expect(result.status == 0, "\(arguments): \(result.errors)")
            outputs.append((arguments.joined(separator: " "), result.output + result.errors))
        }
        let listed = try await berth(["secret", "list"] + selection)
        #expect(listed.output.hasPrefix("NAME") && listed.output.contains("MESSAGE"), "\(listed.output)")
        let instance = try #require(try await berth(["containers", "instances", "web", "--json"] + selection).json([InstanceView].self).first).instance
        for path in [
            "/api/server", "/api/containers", "/api/containers/web", "/api/containers/web/instances", "/api/deployments",
            "/api/deployments/\(change.deployment ?? "")", "/api/images", "/api/secrets", "/api/instances/\(instance)/events",
            "/", "/assets/app.js", "/metrics", "/api/containers/web/history", "/api/containers/web/instances/stats", "/api/instances/\(instance)",
        ] {
            let answer = try await server.admin(path, token: server.token)
            #expect(answer.status == 200, "\(path)")
            outputs.append((path, answer.body))
        }
        let deleted = try await berth(["secret", "delete", "MESSAGE"] + selection)
        #expect(deleted.status == 0, "\(deleted.errors)")
        #expect(try await server.get("/container/after").body.contains("my message: \"\""))
        outputs.append(("secret delete", deleted.output + deleted.errors))
        outputs.append(("the server's log (trace)", server.output.joined(separator: "\n")))
        for (what, text) in outputs {
            #expect(!text.contains(value), "\(what) shows the secret")
        }
        #expect(server.output.contains { $0.contains("secret stored") && $0.contains("MESSAGE") }, "the log names the secret")

        let mode = { (path: String) in (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue }
        #expect(try mode(project.folder + "/.berth/secrets.json") == 0o600)
        #expect(try mode(project.folder + "/.berth") == 0o700)
    }
}
