@testable import BerthRuntime
import BerthCore
import Testing

@Suite("An engine that does not answer")
struct EngineOutageTests {
    @Test("a start while the engine does not answer gets 503 with the reason and Retry-After, starts no backoff, and works once it answers")
    func unreachable() async throws {
        let f = try ControllerFixture()
        let object = f.containerClass.getByName("outage")
        f.runtime.setAvailable(false)
        let error = try #require(await { () async -> BerthError? in
            do throws(BerthError) { try await object.startAndWaitForPorts() } catch { return error }
            return nil
        }())
        #expect(error.code == .engineUnavailable && error.code.httpStatus == 503)
        #expect(error.message.contains("the container engine is not answering"))
        #expect(error.retryAfterSeconds == 5)
        #expect(f.containerClass.failedStarts(object.objectID) == nil)
        f.runtime.setAvailable(true)
        try await object.startAndWaitForPorts()
        #expect(await object.status == .healthy)
        await f.shutdown()
    }
}
