@testable import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthTestSupport
import DockerEngine
import Foundation
import Logging
import Synchronization
import Testing

@Suite("The engine back after an outage: Berth reconciles while serving", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct EngineRecoveryEngineTests {
    @Test("back: a stopped leftover is removed, a restored container is adopted by its idle object, a second one of a serving object removed")
    func reconcileOnRecovery() async throws {
        let relay = try EngineRelay()
        defer { relay.stop() }
        let direct = try DockerClient()
        let recording = Mutex<RecordingRuntime?>(nil)
        try await GatewayFixture.with(wrapRuntime: { base in
            let wrapped = RecordingRuntime(base)
            recording.withLock { $0 = wrapped }
            return wrapped
        }, dockerHost: relay.host) { f in
            let runtime = try #require(recording.withLock { $0 })
            #expect(try await f.request("/container/serving").status == 200)
            let serving = f.myContainer.idFromName("/container/serving")
            let servingContainer = try #require(await f.myContainer.get(serving).containerID)
            let spec = try #require(runtime.lastSpec)
            let deployment = try #require(spec.labels[BerthLabel.deployment])

            // The monitor as `berth serve` wires it: back up, the server reconciles.
            let monitorClient = DockerClient(host: relay.host)
            let monitorRuntime = DockerRuntime(client: monitorClient)
            let classes = f.platform.classes
            let monitor = EngineMonitor(engine: monitorRuntime, telemetry: Telemetry(), logger: Logger(label: "test"), onRecovery: {
                _ = try? await Reconciler(runtime: monitorRuntime, logger: Logger(label: "test")).reconcile(
                    owner: "\(BerthLabel.app)=\(f.app)", classes: { classes[$0] }, knownDeployments: [deployment], grace: .seconds(2)
                )
            })

            relay.cut()
            await monitor.check()
            #expect(monitor.health.up == false)
            // Meanwhile the engine (played on the real socket): a start the outage cut off left a
            // stopped container; it restored one for an idle object and a second one for the
            // serving object.
            let engine = DockerRuntime(client: direct)
            func labelled(_ name: String) -> InstanceSpec {
                var copy = spec
                copy.labels[BerthLabel.object] = f.myContainer.idFromName(name).hex
                copy.labels[BerthLabel.objectName] = name
                copy.labels[BerthLabel.instance] = UUID().uuidString.lowercased()
                return copy
            }
            let cutOff = try await engine.startInstance(labelled("/container/cut-off")).containerID
            try await direct.stopContainer(cutOff, timeout: 1)
            let restored = try await engine.startInstance(labelled("/container/idle")).containerID
            let second = try await engine.startInstance(labelled("/container/serving")).containerID

            try relay.start()
            await monitor.check()
            #expect(monitor.health.up)

            let idle = f.myContainer.idFromName("/container/idle")
            #expect(await f.myContainer.get(idle).containerID == restored, "the idle object adopted the restored container")
            #expect(await f.myContainer.get(serving).containerID == servingContainer, "the serving object kept its own")
            let left = try await f.engineContainers()
            #expect(Set(left.map(\.id)) == [servingContainer, restored], "\(left.map(\.id)) cut-off \(cutOff) second \(second)")
            #expect(try await f.engineContainers(object: serving).count == 1)
            #expect(try await f.request("/container/serving").status == 200)
            #expect(try await f.request("/container/idle").status == 200)
            #expect(await f.myContainer.get(idle).containerID == restored)

            // Again: nothing changes.
            relay.cut()
            await monitor.check()
            try relay.start()
            await monitor.check()
            #expect(Set(try await f.engineContainers().map(\.id)) == [servingContainer, restored])
            try await monitorClient.shutdown()
        }
        try await direct.shutdown()
    }
}
