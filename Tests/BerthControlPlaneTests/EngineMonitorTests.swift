import BerthAPI
@testable import BerthControlPlane
import BerthTestSupport
import Logging
import Testing

@Suite("The engine monitor")
struct EngineMonitorTests {
    @Test("an engine that stops answering shows as down in berth_engine_up and the server info, and as up once it answers again")
    func downAndUp() async throws {
        let engine = MemoryEngine()
        let telemetry = Telemetry()
        let monitor = EngineMonitor(engine: engine, telemetry: telemetry, logger: Logger(label: "test"))
        await monitor.check()
        #expect(monitor.health.up)
        #expect(telemetry.registry.emitToString().contains("berth_engine_up 1"))

        engine.setAvailable(false)
        let before = monitor.health.since
        await monitor.check()
        #expect(!monitor.health.up)
        #expect(monitor.health.since >= before)
        #expect(monitor.health.error?.contains("unavailable") == true)
        #expect(telemetry.registry.emitToString().contains("berth_engine_up 0"))

        engine.setAvailable(true)
        await monitor.check()
        #expect(monitor.health.up && monitor.health.error == nil)
        #expect(telemetry.registry.emitToString().contains("berth_engine_up 1"))
        engine.shutdown()
    }
}
