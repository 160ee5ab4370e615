import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import Synchronization
import Testing

/// The Docker driver (``DockerRuntime``) through its protocols, on the real engine: exits
/// watched over one events stream, images, output.
@Suite("The Docker driver on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct DockerDriverTests {
    @Test("exit watching: a container that exits later, one that had exited already, one that is gone, many at once")
    func exits() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            func start(_ command: [String]) async throws -> String {
                let id = try await f.client.createContainer(f.spec(image, command: command))
                try await f.client.startContainer(id)
                return id
            }
            // Exits after the wait began: the events stream reports it.
            let later = try await start(["/bin/busybox", "sh", "-c", "/bin/busybox sleep 1; exit 3"])
            async let laterCode = driver.waitForExit(later)
            // Exited before anyone waited: the look after registering finds it.
            let early = try await start(["/bin/busybox", "sh", "-c", "exit 7"])
            _ = try await f.client.waitContainer(early)
            #expect(try await driver.waitForExit(early) == 7)
            #expect(try await laterCode == 3)
            // Removed: the wait ends rather than hanging.
            let removed = try await start(["/bin/busybox", "sleep", "30"])
            async let removedCode = driver.waitForExit(removed)
            try await Task.sleep(for: .milliseconds(200))
            try await f.client.removeContainer(removed, force: true)
            #expect(try await removedCode != 0)
            // Twenty at once, each with its own code.
            var ids: [(String, Int)] = []
            for code in 0..<20 { ids.append((try await start(["/bin/busybox", "sh", "-c", "/bin/busybox sleep 0.5; exit \(code)"]), code)) }
            let codes = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for (id, code) in ids { group.addTask { (try await driver.waitForExit(id), code) } }
                var codes: [(Int, Int)] = []
                for try await pair in group { codes.append(pair) }
                return codes
            }
            #expect(codes.count == 20)
            #expect(codes.allSatisfy { $0.0 == $0.1 })
        }
    }

    @Test("a cancelled wait ends at once and the container keeps running")
    func cancelledWait() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            let id = try await f.client.createContainer(f.spec(image, command: ["/bin/busybox", "sleep", "30"]))
            try await f.client.startContainer(id)
            let wait = Task { try await driver.waitForExit(id) }
            try await Task.sleep(for: .milliseconds(200))
            wait.cancel()
            await #expect(throws: BerthError.self) { try await wait.value }
            #expect(try await f.client.inspectContainer(id).state.running)
            try await f.client.removeContainer(id, force: true)
        }
    }

    @Test("images through the driver: build with progress, inspect (exposed ports), list by label, tag, remove; a missing one is not_found")
    func images() async throws {
        try await EngineFixture.with { f in
            let driver = DockerRuntime(client: f.client)
            let context = try f.busyboxContext(["EXPOSE 8080 9090/udp 7070"])
            let tag = f.tag("driver")
            f.track(image: tag)
            let steps = StepCounter()
            let id = try await driver.buildImage(
                ImageBuildRequest(contextDirectory: context, dockerfile: "Dockerfile", tags: [tag], labels: f.labels)
            ) { event in if case .step = event { steps.add() } }
            #expect(id.hasPrefix("sha256:"))
            // The Dockerfile's four instructions, and the LABEL step the engine adds for the labels.
            #expect(steps.count == 5)
            #expect(try await driver.inspectImage(tag) == ImageInfo(id: id, exposedPorts: [7070, 8080]))
            #expect(try await driver.listImages(labels: [f.label]).contains { $0.id == id && $0.tags == [tag] })
            let (repository, _) = DockerClient.splitReference(tag)
            try await driver.tagImage(tag, repository: repository, tag: "second")
            f.track(image: "\(repository):second")
            let removal = try await driver.removeImage("\(repository):second")
            #expect(removal.untagged == ["\(repository):second"] && removal.deleted.isEmpty)
            let missing = await #expect(throws: BerthError.self) { try await driver.inspectImage("berth-test/none:none") }
            #expect(missing?.code == .notFound)
        }
    }

    @Test("output through the driver: log lines with their stream, followed until the container stops; stats")
    func output() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            let id = try await f.client.createContainer(f.spec(image, command: ["/bin/busybox", "sh", "-c", "echo out; echo err >&2; /bin/busybox sleep 1; echo late"]))
            try await f.client.startContainer(id)
            let stats = try await driver.stats(id)
            #expect(stats.onlineCPUs > 0)
            var lines: [InstanceLogLine] = []
            for try await line in try await driver.logLines(id, follow: true, since: nil) { lines.append(line) }
            #expect(lines.contains(InstanceLogLine(stream: "stdout", text: "out")))
            #expect(lines.contains(InstanceLogLine(stream: "stderr", text: "err")))
            #expect(lines.last == InstanceLogLine(stream: "stdout", text: "late"))
            try await f.client.removeContainer(id, force: true)
        }
    }
}

/// Counts build steps from a `@Sendable` progress closure.
final class StepCounter: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
