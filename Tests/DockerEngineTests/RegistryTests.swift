import AsyncHTTPClient
import BerthCore
import DockerEngine
import Foundation
import NIOCore
import BerthTestSupport
import Testing


@Suite("Push and pull with a real registry", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct RegistryTests {
    @Test("push needs the registry's credentials; with them the image goes up and comes back down")
    func pushPull() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try await registry.waitUntilReady()

        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let repository = "\(registry.address)/berth-test/\(f.runID)"
            try await f.client.tagImage(image, repository: repository, tag: "v1")
            f.track(image: "\(repository):v1")

            do {
                try await f.client.push(repository, tag: "v1")
                Issue.record("a push without credentials succeeded")
            } catch let error as BerthError {
                #expect(error.message.contains("push \(repository):v1"), "\(error.message)")
                #expect(error.message.lowercased().contains("auth") || error.message.lowercased().contains("unauthorized"), "\(error.message)")
            }

            let auth = RegistryAuth(username: registry.username, password: registry.password, serverAddress: registry.address)
            var progress: [String] = []
            try await f.client.push(repository, tag: "v1", auth: auth) { progress.append($0.line) }
            #expect(progress.contains { $0.contains("Pushed") || $0.contains("digest") }, "\(progress)")
            #expect(try await registry.tags("berth-test/\(f.runID)").contains("\"v1\""))

            try await f.client.removeImage("\(repository):v1")
            #expect(try await f.client.listImages(reference: "\(repository):v1").isEmpty)
            try await f.client.pull("\(repository):v1", auth: auth)
            let pulled = try await f.client.inspectImage("\(repository):v1")
            #expect(pulled.config.exposedPorts == ["8080/tcp"])
        }
    }
}
