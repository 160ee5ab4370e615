import BerthCore
import DockerEngine
import Foundation
import Testing

/// A unix-socket relay to the engine (Tests/Fixtures/relay) that a test cuts and restores,
/// so that Berth sees its engine stop answering without the shared engine being touched.
final class EngineRelay: Sendable {
    let path: String
    private let binary: String
    private let process = LockedProcess()

    init() throws {
        binary = try ExampleServer.binary(of: "Tests/Fixtures/relay/relay.c")
        path = NSTemporaryDirectory() + "berth-relay-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        try start()
    }

    var host: DockerHost { .unix(path: path) }

    /// Starts relaying (again); returns once it listens.
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [path, DockerHost.defaultSocket]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        _ = output.fileHandleForReading.readData(ofLength: 6)
        self.process.set(process)
    }

    /// Cuts the relay and every connection through it.
    func cut() {
        guard let process = self.process.take() else { return }
        kill(-process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        cut()
        unlink(path)
    }
}

final class LockedProcess: @unchecked Sendable {
    private let lock = NSLock()
    private var process: Process?
    func set(_ value: Process) { lock.withLock { process = value } }
    func take() -> Process? { lock.withLock { defer { process = nil }; return process } }
}

@Suite("An engine outage while Berth serves, through a relay", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct EngineOutageEngineTests {
    @Test("cut: warm requests keep working, cold ones get 503 with the reason; restored: a lost container is replaced, no duplicates")
    func outage() async throws {
        let relay = try EngineRelay()
        defer { relay.stop() }
        let direct = try DockerClient()
        try await GatewayFixture.with(dockerHost: relay.host) { f in
            let first = try await f.request("/container/warm")
            #expect(first.status == 200)
            let warmID = f.myContainer.idFromName("/container/warm")
            let lostContainer = try #require(await f.myContainer.get(warmID).containerID)

            // A lease held across the outage tells whether new connections may be opened.
            let lease = try await f.myContainer.get(warmID).acquire()
            relay.cut()
            #expect(try await f.request("/container/warm").status == 200)
            #expect(lease.mayConnect, "while the engine is out of reach, warm requests go on, on new connections too")
            let cold = try await f.request("/container/cold")
            #expect(cold.status == 503)
            #expect(cold.body.contains("the container engine is not answering"), "\(cold.body)")
            #expect(cold.header("Retry-After") != nil)
            // The engine loses the warm object's container while Berth cannot see it.
            try await direct.removeContainer(lostContainer, force: true)

            try relay.start()
            // Back: until the exit watcher has looked at every container again, no new
            // connection (the lost container's address may be another's by now); then again.
            var distrusted = false
            for _ in 0..<1000 where !distrusted {
                distrusted = !lease.mayConnect
                if !distrusted { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(distrusted, "new connections wait for the containers to be looked at again")
            for _ in 0..<500 where !lease.mayConnect { try await Task.sleep(for: .milliseconds(20)) }
            #expect(lease.mayConnect, "trusted again once they were")
            await lease.release()
            // Berth notices the loss on its own once the engine answers (the exit watcher's
            // stream and the reconcile on recovery). No request goes to the lost container's
            // address before that: the engine may already have given its host port to another
            // container (another test's, on this shared engine), which would then receive it.
            for _ in 0..<150 where await f.myContainer.get(warmID).containerID == lostContainer {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(await f.myContainer.get(warmID).containerID != lostContainer, "Berth noticed the lost container")
            var replaced = false
            for _ in 0..<100 where !replaced {
                let reply = try await f.request("/container/warm")
                let current = await f.myContainer.get(warmID).containerID
                replaced = reply.status == 200 && current != nil && current != lostContainer
                if !replaced { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(replaced)
            #expect(try await f.request("/container/cold").status == 200)
            #expect(try await f.engineContainers(object: warmID).count == 1)
            #expect(try await f.engineContainers().count == 2)
        }
        try await direct.shutdown()
    }
}
