import AsyncHTTPClient
import BerthConfig
import BerthCore
import DockerEngine
import Foundation
import NIOCore
import Testing

@Suite("berth init, then berth dev", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct InitDevEngineTests {
    @Test("a new project serves its greeting under berth dev, the same instance for the same path, and SIGINT removes its containers")
    func initThenDev() async throws {
        let suffix = UUID().uuidString.lowercased().prefix(8)
        let root = NSTemporaryDirectory() + "berth-init-dev-\(suffix)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The folder's name is the app's, unique to this run, so the containers are told apart.
        let folder = root + "/my-app-\(suffix)"
        let app = "my-app-\(suffix)"

        let made = try await berth(["init", folder])
        #expect(made.status == 0, "\(made.errors)")
        try #require(FileManager.default.isExecutableFile(atPath: folder + "/server"), "berth init did not build the server: \(made.errors)")
        let config = try #require(ConfigLoader.load(folder: folder).config)
        #expect(config.name == app)
        let message = try #require(config.berth.classes["MyContainer"]?.envVars["MESSAGE"])
        // A busy machine may take longer than the default 8 s to start a container.
        let file = folder + "/wrangler.jsonc"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: #""berth": {"#, with: #""berth": { "instance_get_timeout": "60s","#)
            .write(toFile: file, atomically: true, encoding: .utf8)

        let dev = try await DevProcess.start(folder: folder)
        defer { dev.watchdog.cancel() }
        let process = dev.process
        let client = try DockerClient()
        var failure: (any Error)?
        do {
            try #require(dev.port > 0, "no Ready line: \(dev.output)")
            let port = dev.port

            var ids: [String] = []
            for _ in 0..<2 {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/container/1"), timeout: .seconds(60))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                #expect(response.status.code == 200, "\(body)")
                #expect(body.hasPrefix("Hi, I'm a container and this is my message: \"\(message)\", my instance ID is: "), "\(body)")
                ids.append(try #require(instanceID(in: body)))
            }
            #expect(!ids[0].isEmpty)
            #expect(ids[0] == ids[1])
            #expect(try await client.listContainers(labels: ["\(BerthLabel.app)=\(app)"]).count == 1)

            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0, "\(dev.output)")
            #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
        } catch {
            failure = error
        }
        // Whatever happened, nothing is left running: the process, its containers, its images.
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? await client.shutdown()
        await ServeTests.cleanUp(app: app)
        if let failure { throw failure }
    }
}
