import Berth
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import Foundation
import Testing

/// `berth secret` in the control plane, on the in-memory driver: the secret reaches containers'
/// environment (the in-memory instance answers with its `MESSAGE`) and the Worker's `env`.
@Suite("Secrets, in process")
struct SecretTests {
    static let value = "s3cr3t-" + Hex.random(bytes: 8)

    func message(_ plane: ControlPlane, _ name: String) async throws -> String {
        let (status, body) = try await plane.request(name)
        guard status == 200, let answer = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw BerthError(.internal, "no answer: \(status) \(body)")
        }
        return answer["message"] as? String ?? ""
    }

    @Test("put: new instances and env.secrets get it at once, a running instance rolls over; delete takes it away again")
    func putReachesContainersAndEnv() async throws {
        try await ControlPlane.with { plane in
            try await plane.deploy()
            let before = try await plane.instance(answering: "a")
            #expect(try await message(plane, "a") == "")

            let change = try await plane.deployer.putSecret("MESSAGE", value: Self.value)
            #expect(change.secret.name == "MESSAGE")
            let secretDeployment = try #require(change.deployment)
            #expect(await plane.deployer.current?.source == "secret")
            #expect(await plane.deployer.current?.id == secretDeployment)
            #expect(try await message(plane, "b") == Self.value, "a new instance has the secret in its environment")
            try await plane.eventually("the running instance rolls over to the secret") {
                try await message(plane, "a") == Self.value
            }
            #expect(try await plane.instance(answering: "a") != before)

            let env = try #require(plane.platform?.env)
            #expect(env.secrets == ["MESSAGE": Self.value])
            #expect(env.vars["MESSAGE"] == nil)
            for text in ["\(env)", String(reflecting: env), String(describing: Mirror(reflecting: env).children.map(\.value))] {
                #expect(!text.contains(Self.value), "printing env shows no secret value: \(text)")
                #expect(text.contains("MESSAGE"))
            }

            let views = try await plane.deployer.secretViews()
            #expect(views.map(\.name) == ["MESSAGE"])
            #expect(!String(decoding: try AdminJSON.encoder.encode(views), as: UTF8.self).contains(Self.value))

            _ = try await plane.deployer.deleteSecret("MESSAGE")
            #expect(try await plane.deployer.secretViews().isEmpty)
            #expect(try await message(plane, "c") == "")
            #expect(plane.platform?.env.secrets.isEmpty == true)
            await #expect(throws: BerthError.self) { try await plane.deployer.deleteSecret("MESSAGE") }
        }
    }

    @Test("after a restart the secrets serve again, the instance that has them is adopted, and a redeploy does not replace it")
    func restartKeepsSecrets() async throws {
        try await ControlPlane.withRestart { first in
            try await first.deploy()
            _ = try await first.deployer.putSecret("MESSAGE", value: Self.value)
            return try await first.instance(answering: "a")
        } after: { second, instance in
            let outcome = try await second.deployer.restore()
            #expect(outcome.adopted == [instance])
            let starts = second.engine.count("start")
            #expect(try await message(second, "a") == Self.value)
            #expect(try await second.instance(answering: "a") == instance)
            #expect(second.platform?.env.secrets == ["MESSAGE": Self.value])
            #expect(try await message(second, "b") == Self.value)
            #expect(second.engine.count("start") == starts + 1, "only b started")
            // Unchanged secrets, unchanged fingerprint: a deployment of the same content and
            // images (the in-memory engine gives every build a new image id) replaces nothing.
            let current = try #require(await second.deployer.current)
            let redeploy = try await second.deployer.rollback(to: current.id, rollout: .immediate)
            try await second.eventually("the redeploy's rollout ends") { await second.deployer.progress(of: redeploy.id).isFinished }
            #expect(try await second.instance(answering: "a") == instance)
        }
    }

    @Test("a name is a var or a secret: a put of an env_vars or vars name is refused, and so is a deploy that uses a secret's name")
    func oneNamespace() async throws {
        try await ControlPlane.with(berth: #"{ "classes": { "MyContainer": { "env_vars": { "MESSAGE": "plain" } } } }"#) { plane in
            // Before any deployment a put only stores.
            #expect(try await plane.deployer.putSecret("TOKEN", value: Self.value).deployment == nil)
            try await plane.deploy()
            do {
                _ = try await plane.deployer.putSecret("MESSAGE", value: Self.value)
                Issue.record("a secret with an env_vars name was stored")
            } catch let error as BerthError {
                #expect(error.code == .conflict)
                #expect(error.message.contains("berth.classes.MyContainer.env_vars.MESSAGE"), "\(error.message)")
                #expect(!error.message.contains(Self.value))
            }
            #expect(try await plane.deployer.secretViews().map(\.name) == ["TOKEN"])
            #expect(try await message(plane, "a") == "plain")

            do {
                try await plane.deploy { $0.vars["TOKEN"] = "visible" }
                Issue.record("a deployment whose vars name a secret was registered")
            } catch let error as BerthError {
                #expect(error.code == .conflict)
                #expect(error.message.contains("vars.TOKEN") && error.message.contains("berth secret delete TOKEN"), "\(error.message)")
            }
            #expect(await plane.deployer.current?.config.vars["TOKEN"] == nil)
        }
    }

    @Test("names are environment variable names outside BERTH_ and CLOUDFLARE_; an empty value is refused")
    func names() async throws {
        try await ControlPlane.with { plane in
            for name in ["", "1KEY", "API-KEY", "API KEY", "KÉY", "BERTH_TOKEN", "cloudflare_region", String(repeating: "A", count: 129)] {
                await #expect(throws: BerthError.self, "\(name)") { try await plane.deployer.putSecret(name, value: Self.value) }
            }
            for value in ["", "a\u{0}b", String(repeating: "x", count: SecretName.maxValueBytes + 1)] {
                do {
                    _ = try await plane.deployer.putSecret("KEY", value: value)
                    Issue.record("a value of \(value.utf8.count) bytes was stored")
                } catch let error as BerthError {
                    #expect(error.code == .invalidInput)
                }
            }
            #expect(try await plane.deployer.secretViews().isEmpty)
            for name in ["KEY", "_key2", "a"] { _ = try await plane.deployer.putSecret(name, value: Self.value) }
            #expect(try await plane.deployer.secretViews().map(\.name) == ["KEY", "_key2", "a"])
        }
    }

    @Test("the secrets file is mode 0600 in a folder narrowed to 0700, replaced whole; the state database never holds a value")
    func fileModes() async throws {
        try await ControlPlane.with { plane in
            let state = plane.project.state
            try FileManager.default.createDirectory(atPath: state.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try await plane.deploy()
            _ = try await plane.deployer.putSecret("MESSAGE", value: Self.value)
            _ = try await plane.deployer.putSecret("OTHER", value: Self.value + "-2")
            func mode(_ path: String) throws -> Int {
                (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
            }
            #expect(try mode(state.secretsPath) == 0o600)
            #expect(try mode(state.path) == 0o700)
            #expect(!FileManager.default.fileExists(atPath: state.secretsPath + ".new"))
            let file = try #require(FileManager.default.contents(atPath: state.secretsPath))
            #expect(String(decoding: file, as: UTF8.self).contains(Self.value))
            _ = try await plane.instance(answering: "a")
            for suffix in ["", "-wal"] {
                guard let data = FileManager.default.contents(atPath: plane.project.folder + "/state.sqlite" + suffix) else { continue }
                #expect(data.range(of: Data(Self.value.utf8)) == nil, "state.sqlite\(suffix) holds no secret value")
            }
        }
    }
}
