import BerthCore
import DockerEngine
import Foundation
import NIOCore
import Testing

@Suite("Containers on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct EngineContainerTests {
    @Test("ping, version and info; the API version is negotiated")
    func system() async throws {
        try await EngineFixture.with { f in
            try await f.client.ping()
            let version = try await f.client.version()
            #expect(APIVersion(version.apiVersion)! >= DockerClient.minimumAPIVersion)
            let negotiated = try await f.client.apiVersion()
            #expect(negotiated <= DockerClient.maximumAPIVersion)
            #expect(negotiated == min(APIVersion(version.apiVersion)!, DockerClient.maximumAPIVersion))
            let info = try await f.client.info()
            #expect(info.cpus > 0)
            #expect(!info.serverVersion.isEmpty)
        }
    }

    @Test("run with env vars and a loopback port, fetch, read logs, kill, see the exit code and the events")
    func lifecycle() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()

            // Watch this run's events from before the container exists.
            let events = try await f.client.events(EventFilters(labels: [f.label], types: ["container"]))
            let watcher = Task { () -> [String] in
                var actions: [String] = []
                for try await event in events {
                    actions.append(event.action + (event.exitCode.map { ":\($0)" } ?? ""))
                    if event.action == "die" { break }
                }
                return actions
            }

            var spec = f.spec(image)
            spec.environment = ["MESSAGE": "hello from berth"]
            spec.publishedPorts = [8080]
            let id = try await f.client.createContainer(spec)
            try await f.client.startContainer(id)

            let details = try await f.client.inspectContainer(id)
            #expect(details.state.running)
            #expect(details.config.labels["berth.test"] == String(f.runID))
            #expect(details.environmentValue("MESSAGE") == "hello from berth")
            #expect(details.ports["8080/tcp"]?.allSatisfy { $0.hostIP == "127.0.0.1" } == true)
            let port = try #require(details.hostPort(for: 8080))

            let page = try await f.get(port: port)
            #expect(page.status == 200)
            #expect(page.body == "message=hello from berth\n")

            // Follow the logs: the first lines arrive, stdout and stderr apart; leaving the loop closes the stream.
            var seen: [LogLine] = []
            for try await line in try await f.client.logLines(id, options: LogOptions(follow: true)) {
                seen.append(line)
                if seen.count == 2 { break }
            }
            #expect(seen.contains(LogLine(stream: .stdout, timestamp: nil, text: "started on stdout")))
            #expect(seen.contains(LogLine(stream: .stderr, timestamp: nil, text: "warning on stderr")))

            try await f.client.killContainer(id)
            let exitCode = try await f.client.waitContainer(id)
            #expect(exitCode == 137)
            let stopped = try await f.client.inspectContainer(id)
            #expect(!stopped.state.running)
            #expect(stopped.state.status == "exited")
            #expect(stopped.state.exitCode == 137)

            let actions = try await withTimeout(seconds: 10) { try await watcher.value }
            #expect(actions.contains("create"))
            #expect(actions.contains("start"))
            #expect(actions.contains("die:137"))
            #expect(actions.firstIndex(of: "start")! < actions.firstIndex(of: "die:137")!)
        }
    }

    @Test("wait returns the code a container exits with on its own")
    func exitCode() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let id = try await f.client.createContainer(f.spec(image, command: ["/bin/busybox", "sh", "-c", "echo bye; exit 7"]))
            try await f.client.startContainer(id)
            #expect(try await f.client.waitContainer(id) == 7)
            var lines: [LogLine] = []
            for try await line in try await f.client.logLines(id) { lines.append(line) }
            #expect(lines == [LogLine(stream: .stdout, timestamp: nil, text: "bye")])
        }
    }

    @Test("stop sends SIGTERM and the container's handler runs; stopping twice is fine")
    func stop() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let script = "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do /bin/busybox sleep 0.05; done"
            let id = try await f.client.createContainer(f.spec(image, command: ["/bin/busybox", "sh", "-c", script]))
            try await f.client.startContainer(id)
            for try await line in try await f.client.logLines(id, options: LogOptions(follow: true)) where line.text == "ready" { break }
            try await f.client.stopContainer(id, timeout: 10)
            let details = try await f.client.inspectContainer(id)
            #expect(details.state.exitCode == 0)
            var text: [String] = []
            for try await line in try await f.client.logLines(id) { text.append(line.text) }
            #expect(text.contains("got TERM"))
            try await f.client.stopContainer(id, timeout: 1)
        }
    }

    @Test("memory and CPU limits and the network reach the engine; list filters by label")
    func limitsNetworksAndLabels() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let network = "berth-test-\(f.runID)"
            let networkID = try await f.client.createNetwork(network, internal: true, labels: f.labels)
            f.track(network: networkID)
            #expect(try await f.client.listNetworks(labels: [f.label]).map(\.name) == [network])
            #expect(try await f.client.listNetworks(labels: [f.label]).first?.isInternal == true)

            var limited = f.spec(image)
            limited.memoryBytes = 64 << 20
            limited.nanoCPUs = 500_000_000
            limited.network = network
            limited.labels["role"] = "limited"
            let limitedID = try await f.client.createContainer(limited)
            var other = f.spec(image)
            other.labels["role"] = "other"
            _ = try await f.client.createContainer(other)

            let details = try await f.client.inspectContainer(limitedID)
            #expect(details.hostConfig.memoryBytes == 64 << 20)
            #expect(details.hostConfig.nanoCPUs == 500_000_000)
            #expect(details.hostConfig.networkMode == network)

            let all = try await f.client.listContainers(labels: [f.label])
            #expect(all.count == 2)
            let only = try await f.client.listContainers(labels: [f.label, "role=limited"])
            #expect(only.map(\.id) == [limitedID])
            #expect(only.first?.labels["role"] == "limited")
        }
    }

    @Test("the engine's own error text comes through, typed")
    func engineErrors() async throws {
        try await EngineFixture.with { f in
            do {
                _ = try await f.client.createContainer(f.spec("berth-test/does-not-exist:\(f.runID)"))
                Issue.record("create with a missing image succeeded")
            } catch let error as BerthError {
                #expect(error.code == .notFound)
                #expect((error.cause as? DockerAPIError)?.status == 404)
                #expect(error.message.contains("No such image"), "\(error.message)")
            }
            do {
                _ = try await f.client.inspectContainer("berth-no-such-container-\(f.runID)")
                Issue.record("inspect of a missing container succeeded")
            } catch let error as BerthError {
                #expect(error.code == .notFound)
                #expect(error.message.contains("No such container"), "\(error.message)")
            }
        }
    }

    @Test("an unreachable engine is a clear engine_unavailable error")
    func unreachable() async throws {
        let client = DockerClient(host: .unix(path: "/tmp/berth-no-engine-\(UUID().uuidString).sock"))
        do {
            try await client.ping()
            Issue.record("ping of a missing socket succeeded")
        } catch {
            #expect(error.code == .engineUnavailable)
            #expect(error.message.contains("cannot reach the Docker engine"))
        }
        try await client.shutdown()
    }
}

/// Runs `body`, failing if it takes longer than `seconds`.
func withTimeout<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw BerthError(.timeout, "did not finish within \(seconds)s")
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}
