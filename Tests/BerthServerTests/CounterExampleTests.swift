import BerthAPI
import BerthCore
import BerthTestSupport
import DockerEngine
import Synchronization
import Foundation
import Testing

/// examples/counter as a user runs it: `berth serve`, `berth deploy` of its Swift Worker, and a
/// client counting through a `kill -9` of the server.
@Suite("The counter example", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct CounterExampleTests {
    /// A copy of examples/counter under its own app name, with the example's container server.
    static func copy() throws -> (root: String, folder: String, app: String) {
        let suffix = UUID().uuidString.lowercased().prefix(8)
        let root = NSTemporaryDirectory() + "berth-counter-\(suffix)"
        let app = "counter-\(suffix)"
        let folder = root + "/" + app
        try FileManager.default.createDirectory(atPath: folder + "/worker", withIntermediateDirectories: true)
        let example = ExampleServer.repository.appendingPathComponent("examples/counter").path
        for file in ["Dockerfile", "Package.swift", "worker/main.swift"] {
            try FileManager.default.copyItem(atPath: example + "/" + file, toPath: folder + "/" + file)
        }
        let config = try String(contentsOfFile: example + "/wrangler.jsonc", encoding: .utf8)
            .replacingOccurrences(of: #""name": "counter","#, with: #""name": "\#(app)","#)
        try config.write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: try ExampleServer.binary(), toPath: folder + "/server")
        return (root, folder, app)
    }

    @Test("counts survive a kill -9 in the middle of a loop of increments; a wake-up due while the server was down runs after the restart and starts the container")
    func durableThroughKill9() async throws {
        let installed = try InstalledBerth.shared()
        let (root, folder, app) = try Self.copy()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let build = ["BERTH_WORKER_BUILD_PATH": WorkerBuilds.scratch, "BERTH_WORKER_CONFIGURATION": "debug", "BERTH_SDK": installed.sdk]
        var server = try await ServerProcess.start(folder: folder)
        do {
            let deployed = try await berth(["deploy", folder, "--containers-rollout", "immediate"], environment: build)
            try #require(deployed.status == 0, "\(deployed.errors)\n\(deployed.output)")
            #expect(try await server.get("/counter/ada").body == "1\n")
            #expect(try await server.get("/counter/grace").body == "1\n", "each name counts on its own")

            // A client counts without pause; the server is killed in the middle.
            let received = LastCount()
            let port = server.gatewayPort
            let loop = Task {
                while true {
                    guard let answer = try? await SwiftWorkerDevTests.get("http://127.0.0.1:\(port)/counter/ada"), answer.status == 200,
                          let count = Int(answer.body.trimmingCharacters(in: .whitespacesAndNewlines))
                    else { return }
                    received.saw(count)
                }
            }
            while received.value < 40 { try await Task.sleep(for: .milliseconds(5)) }
            // A wake-up due in 2 s, while no server runs.
            let scheduled = try await server.get("/counter/ada/in/2")
            #expect(scheduled.status == 200 && scheduled.body.hasPrefix("scheduled "), "\(scheduled.body)")
            server.kill9()
            let killedAt = Date()
            await loop.value
            let last = received.value
            let gone = try? await SwiftWorkerDevTests.get("http://127.0.0.1:\(port)/counter/ada")
            #expect(gone == nil, "the server is gone")
            try await Task.sleep(for: .seconds(3))

            server = try await ServerProcess.start(folder: folder)
            // The count is at least the last one a client was told (a write is committed before
            // its answer leaves), and the next increment follows it.
            let next = try await server.get("/counter/ada")
            let after = try #require(Int(next.body.trimmingCharacters(in: .whitespacesAndNewlines)), "\(next.status) \(next.body)")
            #expect(after >= last + 1, "the count went back: \(after) after \(last)")
            #expect(after <= last + 2, "at most the one increment in flight at the kill was added: \(after) after \(last)")
            #expect(try await server.get("/counter/grace").body == "2\n")

            // The wake-up ran once the server was back, and started the object's container.
            var ran = ""
            for _ in 0..<300 {
                ran = try await server.get("/counter/ada/ran").body
                if ran.hasPrefix("ran at ") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let at = try #require(Double(ran.dropFirst("ran at ".count).trimmingCharacters(in: .whitespacesAndNewlines)), "never ran: \(ran)")
            #expect(at > killedAt.timeIntervalSince1970 + 2, "it ran after the restart, not before the kill")
            print("counter: \(last) answered before kill -9, \(after) after the restart; the wake-up ran \(String(format: "%.1f", at - killedAt.timeIntervalSince1970)) s after the kill")
            let client = try DockerClient()
            let containers = (try? await client.listContainers(all: false, labels: ["\(BerthLabel.app)=\(app)"])) ?? []
            try? await client.shutdown()
            #expect(containers.count == 1, "the wake-up started ada's container: \(containers.map(\.id))")
        } catch {
            server.stop()
            await ServeTests.cleanUp(app: app)
            throw error
        }
        server.stop()
        await ServeTests.cleanUp(app: app)
    }
}

/// The highest count a client was answered.
final class LastCount: Sendable {
    private let state = Mutex(0)
    func saw(_ count: Int) { state.withLock { $0 = max($0, count) } }
    var value: Int { state.withLock { $0 } }
}
