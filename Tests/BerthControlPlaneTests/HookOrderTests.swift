import Berth
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthTestSupport
import Foundation
import Synchronization
import Testing

/// Records the hooks of ``RecordingContainer`` objects in the order they ran.
final class HookLog: Sendable {
    let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// A Swift container class whose hooks write down when they run; each hook takes a moment,
/// so that a hook running out of order would show.
struct RecordingContainer: Container {
    static let log = HookLog()
    static let defaultPort: Int? = 8080
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }

    func onStart() async {
        try? await Task.sleep(for: .milliseconds(20))
        Self.log.append("start \(context.id.name ?? "")")
    }

    func onStop(exitCode: Int, reason: StopReason) async {
        try? await Task.sleep(for: .milliseconds(5))
        Self.log.append("stop \(context.id.name ?? "")")
    }
}

@Suite("Hooks, in process")
struct HookOrderTests {
    @Test("an object's hooks run in order: onStop of one instance before onStart of the next, cycle after cycle")
    func hooksInOrder() async throws {
        try await ControlPlane.with(containerTypes: ["MyContainer": RecordingContainer.self]) { plane in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env["MY_CONTAINER"].getByName("cycle"))
            for _ in 0..<4 {
                #expect(try await plane.request("cycle").status == 200)
                await stub.stop()
            }
            try await plane.eventually("every hook ran") { RecordingContainer.log.all.count == 8 }
            #expect(RecordingContainer.log.all == Array(repeating: ["start cycle", "stop cycle"], count: 4).flatMap { $0 })
        }
    }
}
