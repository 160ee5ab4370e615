import BerthCore
@testable import BerthRuntime
import Testing

@Suite("Forgotten objects on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct ForgottenObjectTests {
    @Test("a container that ran and stopped is forgotten once idle; the next request to its name starts a new one")
    func ranAndStopped() async throws {
        try await GatewayFixture.with { f in
            let containerClass = f.myContainer
            var spec = containerClass.spec
            spec.settings.objectIdleForget = .zero
            containerClass.update(spec)

            let first = try await f.request("/container/forgotten")
            #expect(first.status == 200)
            let controller = containerClass.getByName("/container/forgotten")
            await controller.stop()
            #expect(try await f.eventually(within: 10) { try await f.engineContainers().isEmpty })
            await controller.hooksSettled()
            #expect(containerClass.forgetIdleObjects() == 1)
            #expect(containerClass.objectCount == 0)

            let again = try await f.request("/container/forgotten")
            #expect(again.status == 200)
            #expect(again.body != first.body, "a new instance id")
            let fresh = containerClass.getByName("/container/forgotten")
            #expect(fresh !== controller)
            #expect(fresh.objectID == controller.objectID)
            #expect(await fresh.status == .healthy)
            #expect(try await f.engineContainers(object: fresh.objectID).count == 1)
            let instance = await fresh.instanceID
            #expect(await controller.instanceID == instance, "a stub from before follows the name")
        }
    }
}
