import Berth
import BerthControlPlane
import BerthRuntime
import Testing

@Suite("Refused starts, in process")
struct RefusedStartTests {
    @Test("starts refused by max_instances are counted, not recorded one row each, and their objects forgotten")
    func refusedStartsCounted() async throws {
        try await ControlPlane.with(maxInstances: 1, recordEvents: true) { plane in
            try await plane.deploy()
            #expect(try await plane.request("holder").status == 200)
            for n in 0..<50 {
                #expect(try await plane.request("refused-\(n)").status == 503)
            }
            let containerClass = try #require(plane.registry["MyContainer"])
            #expect(containerClass.refusedStartCount == 50)
            let metrics = await plane.telemetry.exposition(plane.registry)
            #expect(metrics.contains(#"berth_max_instances_rejections_total{class="MyContainer"} 50"#))
            try await plane.eventually("the refused objects forgotten") { containerClass.objectCount == 1 }

            // One more instance after them: once its events are written, so is everything before.
            await plane.platform?.env["MY_CONTAINER"].getByName("holder").stop()
            let after = try await plane.instance(answering: "after")
            try await plane.eventually("the last start recorded") {
                try await plane.store.events(instanceID: after).map(\.kind).contains("healthy")
            }
            // holder: starting, healthy, stopped; after: starting, healthy. Nothing of the 50.
            #expect(try await plane.store.rowCounts() == (instances: 2, events: 5))
        }
    }
}
