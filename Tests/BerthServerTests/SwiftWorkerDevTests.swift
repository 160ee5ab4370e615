import AsyncHTTPClient
import BerthCore
import DockerEngine
import Foundation
import NIOCore
import Synchronization
import Testing

/// Worker packages in tests build in one folder, in debug: the SDK's packages build once.
enum WorkerBuilds {
    static let scratch = ExampleServer.repository.appendingPathComponent(".build/worker-builds").path
}

/// An installed Berth (`scripts/install.sh` into a temporary prefix): its berth, and the SDK
/// beside it.
struct InstalledBerth: Sendable {
    let prefix: String

    /// One installation for the test process, so that every Worker package builds on the same
    /// SDK path and the SDK's packages are built once in ``WorkerBuilds/scratch``.
    static func shared() throws -> InstalledBerth {
        try installed.withLock { installed in
            if let installed { return installed }
            let made = try install(into: NSTemporaryDirectory() + "berth-installed-\(getpid())")
            installed = made
            return made
        }
    }

    /// Moves the shared installation to `prefix` (as a user moves a Berth install), and makes
    /// it the shared one from now on.
    static func moveShared(to prefix: String) throws -> InstalledBerth {
        try installed.withLock { installed in
            let current = try installed ?? install(into: NSTemporaryDirectory() + "berth-installed-\(getpid())")
            try FileManager.default.moveItem(atPath: current.prefix, toPath: prefix)
            let moved = InstalledBerth(prefix: prefix)
            installed = moved
            return moved
        }
    }

    private static let installed = Mutex<InstalledBerth?>(nil)
    var berth: URL { URL(fileURLWithPath: prefix + "/bin/berth") }
    var sdk: String { prefix + "/share/berth/sdk" }

    static func install(into prefix: String) throws -> InstalledBerth {
        let script = ExampleServer.repository.appendingPathComponent("scripts/install.sh").path
        var environment = ProcessInfo.processInfo.environment
        environment["BERTH_BIN"] = ServerProcess.executable.path
        environment["PREFIX"] = prefix
        environment["SYSTEMD_UNIT_DIR"] = prefix + "/systemd"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script]
        process.environment = environment
        process.currentDirectoryURL = ExampleServer.repository
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "install.sh failed: \(message)")
        return InstalledBerth(prefix: prefix)
    }
}

/// One at a time: the Worker packages build in one folder, and an executable built there is
/// copied out before the next build replaces it.
@Suite("A Swift Worker under berth dev and berth deploy", .serialized, .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct SwiftWorkerDevTests {
    @Test("an installed berth inits a Swift Worker that builds offline on its SDK, runs as its own process, runs the hooks, and comes back after a crash without touching the container")
    func initSwiftThenDev() async throws {
        let installed = try InstalledBerth.shared()
        let (root, folder, app, main, template) = try Self.swiftProject("worker-app")
        defer { try? FileManager.default.removeItem(atPath: root) }

        // Nothing of the project or the SDK points into the source clone, or at a network.
        let repository = ExampleServer.repository.path
        let package = try String(contentsOfFile: folder + "/Package.swift", encoding: .utf8)
        #expect(package.contains("?? \"\(installed.sdk)\""), "\(package)")
        let sdkManifest = try String(contentsOfFile: installed.sdk + "/Package.swift", encoding: .utf8)
        #expect(!sdkManifest.contains("url:"), "the SDK names a remote package: \(sdkManifest)")
        #expect(!package.contains(repository) && !sdkManifest.contains(repository))

        // A route that crashes the Worker while its request is in flight.
        try Self.withRoute(template, "if path == \"/crash\" { fatalError(\"the test asked the Worker to crash\") }")
            .write(toFile: main, atomically: true, encoding: .utf8)
        let file = folder + "/wrangler.jsonc"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: #""berth": {"#, with: #""berth": { "instance_get_timeout": "60s","#)
            .write(toFile: file, atomically: true, encoding: .utf8)

        // The installation moves after the project was made: the berth that builds the
        // Worker says where its SDK is now (the project's Package.swift names the old place).
        let moved = try InstalledBerth.moveShared(to: installed.prefix + "-moved")
        #expect(!FileManager.default.fileExists(atPath: installed.sdk))
        let dev = try await DevProcess.start(
            folder: folder, executable: moved.berth, environment: ["BERTH_WORKER_BUILD_PATH": WorkerBuilds.scratch], watchdog: .seconds(900)
        )
        defer { dev.watchdog.cancel() }
        let client = try DockerClient()
        var failure: (any Error)?
        do {
            try #require(dev.port > 0, "no Ready line: \(dev.output.suffix(40))")
            let base = "http://127.0.0.1:\(dev.port)"
            #expect(dev.output.contains { $0.contains("[worker] built worker") }, "\(dev.output.suffix(20))")
            let index = try await Self.get(base + "/")
            #expect(index.body.hasPrefix("Call /container/<id>"), "\(index.body)")

            let first = try await Self.get(base + "/container/1")
            #expect(first.status == 200, "\(first.body)")
            let instance = try #require(instanceID(in: first.body))
            #expect(try await client.listContainers(labels: ["\(BerthLabel.app)=\(app)"]).count == 1)
            // The class's onStart ran in the Worker process, and its line reached berth dev's output.
            try await Self.eventually { dev.output.contains { $0.contains("[worker] [MyContainer /container/1] Container successfully started") } }

            // A crash ends the request in flight with 502 and its reason; the Worker restarts,
            // and the container it reached was not touched.
            let crashed = try await Self.get(base + "/crash")
            #expect(crashed.status == 502, "\(crashed.body)")
            #expect(crashed.body.contains("the Worker process"), "\(crashed.body)")
            let again = try await Self.get(base + "/container/1")
            #expect(again.status == 200, "\(again.body)")
            #expect(instanceID(in: again.body) == instance)
            #expect(dev.output.contains { $0.contains("restarting in") }, "\(dev.output.suffix(20))")

            kill(dev.process.processIdentifier, SIGINT)
            dev.process.waitUntilExit()
            #expect(dev.process.terminationStatus == 0, "\(dev.output.suffix(20))")
            #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
            var left: [String] = []
            _ = try ChildProcess.run("/usr/bin/pgrep", ["-f", folder + "/.berth/workers/"]) { left.append($0) }
            #expect(left.isEmpty, "Worker processes outlived berth dev: \(left)")
        } catch {
            failure = error
        }
        if dev.process.isRunning {
            dev.process.terminate()
            dev.process.waitUntilExit()
        }
        try? await client.shutdown()
        await ServeTests.cleanUp(app: app)
        if let failure { throw failure }
    }

    @Test("ten deploys and a rollback of a Swift Worker: each a new Worker process, taking requests once ready, while a client loop sees no failed request and the container keeps running; a Worker that does not start fails its deploy")
    func deploysWithoutAFailedRequest() async throws {
        let (root, folder, app, main, code) = try Self.swiftProject("deploys")
        defer { try? FileManager.default.removeItem(atPath: root) }
        // The Worker says which version of the vars it serves.
        try Self.withRoute(code, "if path == \"/version\" { return .text(env.vars[\"VERSION\"] ?? \"none\") }")
            .write(toFile: main, atomically: true, encoding: .utf8)
        let file = folder + "/wrangler.jsonc"
        let config = try String(contentsOfFile: file, encoding: .utf8)
            .replacingOccurrences(of: #""berth": {"#, with: #""berth": { "instance_get_timeout": "60s","#)
        func setVersion(_ version: Int) throws {
            try config.replacingOccurrences(of: "\"name\": \"\(app)\",", with: "\"name\": \"\(app)\", \"vars\": { \"VERSION\": \"\(version)\" },")
                .write(toFile: file, atomically: true, encoding: .utf8)
        }
        try setVersion(0)
        let build = ["BERTH_WORKER_BUILD_PATH": WorkerBuilds.scratch, "BERTH_WORKER_CONFIGURATION": "debug"]

        let server = try await ServerProcess.start(folder: folder)
        defer { server.stop() }
        do {
            let first = try await berth(["deploy", folder, "--containers-rollout", "immediate"], environment: build)
            try #require(first.status == 0, "\(first.errors)\n\(first.output)")
            let port = server.gatewayPort
            let instance = try #require(instanceID(in: try await Self.get("http://127.0.0.1:\(port)/container/1").body))

            // Two clients ask without pause, through every deploy.
            let tally = Tally()
            let clients = (0..<2).map { n in
                Task {
                    while !tally.stopped {
                        let path = n == 0 ? "/container/1" : "/version"
                        do {
                            let answer = try await Self.get("http://127.0.0.1:\(port)\(path)")
                            tally.count(answer.status == 200 ? nil : "\(path): \(answer.status) \(answer.body)")
                        } catch {
                            tally.count("\(path): \(error)")
                        }
                    }
                }
            }
            for version in 1...10 {
                try setVersion(version)
                let deployed = try await berth(["deploy", folder, "--containers-rollout", "immediate"], environment: build)
                #expect(deployed.status == 0, "deploy \(version): \(deployed.errors)")
                // The new Worker takes new requests once the deploy returns.
                #expect(try await Self.get("http://127.0.0.1:\(port)/version").body == "\(version)")
            }
            let rollback = try await berth(["rollback", "--project", folder])
            #expect(rollback.status == 0, "\(rollback.errors)")
            #expect(try await Self.get("http://127.0.0.1:\(port)/version").body == "9")
            // A Worker that does not start fails its deploy, and the one serving goes on.
            try code.replacingOccurrences(
                of: "try await WorkerProcess.run(",
                with: "if CommandLine.arguments.contains(\"--berth-link-fd\") { fatalError(\"this version does not start\") }\ntry await WorkerProcess.run("
            ).write(toFile: main, atomically: true, encoding: .utf8)
            let broken = try await berth(["deploy", folder, "--containers-rollout", "immediate"], environment: build)
            #expect(broken.status != 0)
            #expect((broken.errors + broken.output).contains("did not start"), "\(broken.errors)")
            #expect(try await Self.get("http://127.0.0.1:\(port)/version").body == "9")
            tally.stop()
            for client in clients { await client.value }
            let (ok, failed) = tally.result
            #expect(failed.isEmpty, "\(failed.count) failed of \(ok + failed.count): \(failed.prefix(5))")
            #expect(ok > 20, "only \(ok) requests")
            // The container was not replaced: nothing about it changed.
            #expect(instanceID(in: try await Self.get("http://127.0.0.1:\(port)/container/1").body) == instance)
            // The Workers served before have drained and stopped: one process is left.
            var running: [String] = []
            for _ in 0..<100 {
                running = []
                _ = try ChildProcess.run("/usr/bin/pgrep", ["-f", folder + "/.berth/workers/"]) { running.append($0) }
                if running.count == 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(running.count == 1, "Worker processes: \(running)")
            print("deploys: \(ok) requests through 10 deploys and a rollback, none failed")
        } catch {
            server.stop()
            await ServeTests.cleanUp(app: app)
            throw error
        }
        server.stop()
        await ServeTests.cleanUp(app: app)
    }

    /// A project `berth init --worker swift` wrote with the installed berth (the SDK found
    /// beside it: BERTH_SDK empty), in a new temporary folder, its Worker given `route` before
    /// the template's last answer; its template's worker/main.swift is returned too.
    static func swiftProject(_ prefix: String) throws -> (root: String, folder: String, app: String, main: String, template: String) {
        let suffix = UUID().uuidString.lowercased().prefix(8)
        let root = NSTemporaryDirectory() + "berth-\(prefix)-\(suffix)"
        let app = "\(prefix)-\(suffix)"
        let folder = root + "/" + app
        var said: [String] = []
        let status = try ChildProcess.run(try InstalledBerth.shared().berth.path, ["init", folder, "--worker", "swift"], environment: ["BERTH_SDK": ""]) { said.append($0) }
        try #require(status == 0, "\(said)")
        let main = folder + "/worker/main.swift"
        return (root, folder, app, main, try String(contentsOfFile: main, encoding: .utf8))
    }

    /// The template's Worker with `route` (a line of Swift) before its last answer.
    static func withRoute(_ template: String, _ route: String) -> String {
        template.replacingOccurrences(of: "        return .text(\"Call /container", with: "        \(route)\n        return .text(\"Call /container")
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(90))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    static func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
        #expect(condition())
    }
}

/// What a client loop saw: answers that were fine, and the others.
final class Tally: Sendable {
    private let state = Mutex((ok: 0, failed: [String](), stopped: false))
    func count(_ failure: String?) { state.withLock { if let failure { $0.failed.append(failure) } else { $0.ok += 1 } } }
    func stop() { state.withLock { $0.stopped = true } }
    var stopped: Bool { state.withLock { $0.stopped } }
    var result: (ok: Int, failed: [String]) { state.withLock { ($0.ok, $0.failed) } }
}
