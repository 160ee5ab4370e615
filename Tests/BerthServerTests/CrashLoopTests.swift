import BerthCore
import BerthRuntime
import BerthTestSupport
import Foundation
import Synchronization
import Testing

@Suite("Crash loops on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct CrashLoopTests {
    /// `crash_backoff` of 4s doubling to 8s, so that the test sees two waits quickly.
    static let berth = #"{ "classes": { "MyContainer": { "crash_backoff": { "initial": "4s", "max": "8s" } } } }"#

    @Test("a container that exits with code 3 at once: its starts back off, requests meanwhile get 503 with Retry-After and the exit code, each retry starts the same container again")
    func crashLoop() async throws {
        let recording = Mutex<RecordingRuntime?>(nil)
        try await GatewayFixture.with(berth: Self.berth, server: try ExampleServer.binary(of: "Tests/Fixtures/crasher/crasher.c"), wrapRuntime: { base in
            let wrapped = RecordingRuntime(base)
            recording.withLock { $0 = wrapped }
            return wrapped
        }) { f in
            let runtime = try #require(recording.withLock { $0 })
            let first = try await f.request("/container/crashy")
            #expect(first.status == 500)
            #expect(first.body.contains("exited with code 3"), "\(first.body)")
            #expect(first.header("Retry-After").flatMap(Int.init).map { (1...4).contains($0) } == true)
            // The stopped container stays for the next attempt: one container for the object.
            let object = f.myContainer.idFromName("/container/crashy")
            var held = try await runtime.listInstances(labels: ["\(BerthLabel.object)=\(object.hex)"])
            for _ in 0..<50 where held.contains(where: \.running) {
                // The engine may still list it as running while it tears the process down.
                try await Task.sleep(for: .milliseconds(100))
                held = try await runtime.listInstances(labels: ["\(BerthLabel.object)=\(object.hex)"])
            }
            #expect(held.count == 1 && held.allSatisfy { !$0.running }, "\(held.map { ($0.containerID, $0.running) })")

            // While it waits: 503, Retry-After, the exit code; no engine call however many ask.
            let refusals = try await withThrowingTaskGroup(of: GatewayFixture.Reply.self) { group in
                for _ in 0..<20 { group.addTask { try await f.request("/container/crashy") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(refusals.allSatisfy { $0.status == 503 })
            #expect(refusals.allSatisfy { $0.body.contains("exited with code 3 once") })
            let firstWait = try #require(refusals.compactMap { $0.header("Retry-After").flatMap(Int.init) }.min())
            #expect((1...4).contains(firstWait))
            #expect(runtime.starts == 1)

            // After the wait, one more start; it fails too and the wait doubles.
            var second: GatewayFixture.Reply?
            for _ in 0..<20 {
                let wait = refusals.first?.header("Retry-After").flatMap(Int.init) ?? 1
                try await Task.sleep(for: .seconds(min(wait, 4)))
                let reply = try await f.request("/container/crashy")
                if reply.status != 503 {
                    second = reply
                    break
                }
            }
            #expect(second?.status == 500)
            // The retry started that container again: no create, no remove.
            #expect(runtime.starts == 1)
            #expect(runtime.restarts == 1)
            #expect(try await runtime.listInstances(labels: ["\(BerthLabel.object)=\(object.hex)"]).map(\.containerID) == held.map(\.containerID))
            let refused = try await f.request("/container/crashy")
            #expect(refused.status == 503)
            #expect(refused.body.contains("exited with code 3 2 times in a row"), "\(refused.body)")
            let secondWait = try #require(refused.header("Retry-After").flatMap(Int.init))
            #expect(secondWait > firstWait)
            #expect(runtime.starts == 1)
            #expect(f.myContainer.failedStarts(f.myContainer.idFromName("/container/crashy"))?.lastExitCode == 3)
            // Other objects are not held back.
            #expect(try await f.request("/container/other").status == 500)
            #expect(runtime.starts == 2)
        }
    }
}
