@testable import BerthRuntime
import BerthConfig
import Testing

@Suite("A class spec's fingerprint")
struct ClassSpecTests {
    static func spec(_ edit: (inout ContainerSettings) -> Void = { _ in }) -> ClassSpec {
        var settings = ContainerSettings(app: "app", className: "Web", containerName: "web", image: "berth.local/app/web:d1", defaultPort: 8080)
        edit(&settings)
        return ClassSpec(settings: settings, maxInstances: 1, deploymentID: "d1", imageID: "sha256:abc")
    }

    @Test("the fingerprint of a spec that says nothing of its logs is the one it had before the key, so an upgrade rolls nothing")
    func stable() {
        // Pinned: a changed fingerprint for an unchanged configuration replaces every running
        // container of every deployment made by an earlier Berth at the first rollout.
        #expect(Self.spec().fingerprint == "f13acd40e28d270c")
    }

    @Test("rotated-log settings other than the defaults make another fingerprint (a rollout applies them)")
    func logs() {
        let plain = Self.spec().fingerprint
        #expect(Self.spec { $0.isolation.logs = ContainerLogs() }.fingerprint == plain)
        #expect(Self.spec { $0.isolation.logs.maxFiles = 5 }.fingerprint != plain)
        #expect(Self.spec { $0.isolation.logs.maxSizeBytes = 1 << 20 }.fingerprint != plain)
    }
}
