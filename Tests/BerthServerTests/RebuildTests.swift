import AsyncHTTPClient
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import DockerEngine
import Foundation
import Logging
import NIOCore
import Testing

@Suite("Rebuilding while serving", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct RebuildTests {
    @Test("a rebuild deploys again: running containers are replaced at once by ones from the new image")
    func rebuild() async throws {
        let project = try ExampleProject(prefix: "rb", berth: #"{ "instance_get_timeout": "60s" }"#, label: "version=1")
        defer { project.remove() }
        let (app, folder) = (project.app, project.folder)
        let config = try ConfigLoader.load(folder: folder).get()

        var logger = Logger(label: "berth.test")
        logger.logLevel = .warning
        var server = ProjectServer(config: config, host: "127.0.0.1", port: 0, logger: logger)
        server.adminPort = 0
        let (rebuilds, requestRebuild) = AsyncStream.makeStream(of: Void.self)
        server.rebuilds = rebuilds
        server.shutdownSignals = []
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
        let (said, sayContinuation) = AsyncStream.makeStream(of: String.self)
        let serving = Task { [server] in
            try await DockerClient.with(logger: logger) { client in
                try await server.run(engine: DockerRuntime(client: client, logger: logger), say: { sayContinuation.yield($0) }, onReady: { readyContinuation.yield($0) })
            }
        }
        let client = try DockerClient()
        do {
            var readyIterator = ready.makeAsyncIterator()
            let port = try #require(await readyIterator.next())
            let labels = ["\(BerthLabel.app)=\(app)"]

            func get() async throws -> UInt {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/container/1"), timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 16)
                return response.status.code
            }
            #expect(try await get() == 200)
            let before = try #require(try await client.listContainers(labels: labels).first)

            try project.writeDockerfile(label: "version=2")
            requestRebuild.yield()
            for await line in said where line.hasPrefix("rebuilt") || line.hasPrefix("rebuild failed") {
                #expect(line.hasPrefix("rebuilt"), "\(line)")
                break
            }
            // The running instance was replaced at once, from the new image.
            let running = try await client.listContainers(labels: labels)
            #expect(running.count == 1)
            #expect(try await get() == 200)
            let after = try #require(running.first)
            #expect(after.id != before.id)
            #expect(after.imageID != before.imageID)
            #expect(try await client.inspectImage(after.imageID).config.labels["version"] == "2")
        } catch {
            serving.cancel()
            _ = try? await serving.value
            throw error
        }
        serving.cancel()
        _ = try? await serving.value
        #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true, prune: false)
        }
        try await client.shutdown()
    }
}
