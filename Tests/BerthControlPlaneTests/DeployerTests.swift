import Berth
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthTestSupport
import Foundation
import Testing

/// The control plane on the in-memory driver: deployments, rollouts, rollback, restore,
/// reconcile, `max_instances`, deletion and hooks, in process and in seconds. The same
/// behaviour is tested against the real engine in BerthServerTests.
@Suite("Control plane, in process")
struct DeployerTests {
    @Test("deploy builds through the driver and serves at once; the first request starts one instance, labelled for its object")
    func deploy() async throws {
        let project = try MemoryProject()
        defer { project.remove() }
        let engine = MemoryEngine()
        defer { engine.shutdown() }
        let plane = try await ControlPlane.open(project, engine: engine)
        let deployment = try await plane.deploy()
        #expect(engine.calls.contains { $0.hasPrefix("build berth.local/\(project.app)/web:\(deployment.id)") })
        #expect(await plane.deployer.current?.id == deployment.id)
        #expect(deployment.images["web"]?.exposedPorts == [8080])
        #expect(engine.containers.isEmpty, "deploying starts nothing")

        async let first = plane.instance(answering: "a")
        async let second = plane.instance(answering: "a")
        let (one, two) = try await (first, second)
        #expect(one == two, "one start however many requests arrive together")
        let running = engine.running
        try #require(running.count == 1)
        let labels = running[0].spec.labels
        #expect(labels[BerthLabel.deployment] == deployment.id)
        #expect(labels[BerthLabel.objectName] == "a")
        #expect(labels["berth.server"] == project.serverID)
        #expect(running[0].spec.environment["CLOUDFLARE_DEPLOYMENT_ID"] == one)
        await plane.close()
        #expect(engine.running.isEmpty)
    }

    @Test("a gradual rollout replaces every running instance in steps; rollback registers the earlier images again")
    func rolloutAndRollback() async throws {
        try await ControlPlane.with { plane in
            let engine = plane.engine
            let project = plane.project
            let first = try await plane.deploy()
            var before: [String: String] = [:]
            for name in ["a", "b", "c", "d"] { before[name] = try await plane.instance(answering: name) }

            try project.writeDockerfile(label: "v2")
            let second = try await plane.deploy(rollout: .gradual) { config in
                config.containers[0].rolloutStepPercentage = [50]
            }
            try await plane.eventually("the rollout finishes") { await plane.deployer.progress(of: second.id).isFinished }
            let progress = await plane.deployer.progress(of: second.id)
            #expect(progress.state == .done)
            #expect(progress.steps == [50, 100])
            #expect(progress.total == 4 && progress.replaced == 4)
            for name in ["a", "b", "c", "d"] {
                #expect(try await plane.instance(answering: name) != before[name])
            }
            #expect(engine.running.count == 4)
            #expect(engine.running.allSatisfy { $0.spec.labels[BerthLabel.deployment] == second.id })

            let restored = try await plane.deployer.rollback(to: nil, rollout: .immediate)
            #expect(restored.rollbackOf == first.id)
            #expect(restored.images == first.images)
            try await plane.eventually("the rollback's rollout finishes") { await plane.deployer.progress(of: restored.id).isFinished }
            #expect(engine.running.allSatisfy { $0.spec.image == first.images["web"]?.reference })
        }
    }

    @Test("after a restart the last deployment serves again and running instances are adopted, never started twice")
    func restoreAdopts() async throws {
        try await ControlPlane.withRestart { first in
            let deployment = try await first.deploy()
            return (deployment.id, try await first.instance(answering: "a"), try await first.instance(answering: "b"))
        } after: { second, before in
            let (deploymentID, a, b) = before
            let engine = second.engine
            let outcome = try await second.deployer.restore()
            #expect(Set(outcome.adopted) == [a, b])
            #expect(outcome.stopped.isEmpty && outcome.removed.isEmpty)
            #expect(await second.deployer.current?.id == deploymentID)
            let starts = engine.count("start")
            #expect(try await second.instance(answering: "a") == a)
            #expect(try await second.instance(answering: "b") == b)
            #expect(engine.count("start") == starts, "adopted instances serve without a new start")
            #expect(engine.running.count == 2)
        }
    }

    @Test("reconcile stops orphans of unknown deployments and classes, removes stopped leftovers, leaves other servers' containers alone")
    func reconcileRules() async throws {
        try await ControlPlane.withRestart { first in
            (try await first.deploy(), try await first.instance(answering: "kept"))
        } after: { second, before in
            let (deployment, kept) = before
            let (engine, project) = (second.engine, second.project)
            let image = try #require(deployment.images["web"]?.reference)
            func labels(_ changes: [String: String]) -> [String: String] {
                var labels = [
                    "berth.server": project.serverID, BerthLabel.app: project.app, BerthLabel.className: "MyContainer",
                    BerthLabel.deployment: deployment.id, BerthLabel.object: ObjectID.unique().hex, BerthLabel.instance: Hex.random(bytes: 16),
                ]
                labels.merge(changes) { $1 }
                return labels
            }
            let unknownDeployment = try await engine.plant(InstanceSpec(image: image, labels: labels([BerthLabel.deployment: "gone"]), ports: [8080]))
            let unknownClass = try await engine.plant(InstanceSpec(image: image, labels: labels([BerthLabel.className: "Retired"]), ports: [8080]))
            let exited = try await engine.plant(InstanceSpec(image: image, labels: labels([:]), ports: [8080]))
            engine.exit(exited, code: 1)
            let foreign = try await engine.plant(InstanceSpec(image: image, labels: labels(["berth.server": "another"]), ports: [8080]))

            let outcome = try await second.deployer.restore()
            #expect(outcome.adopted == [kept])
            #expect(Set(outcome.stopped) == [unknownDeployment, unknownClass])
            #expect(outcome.removed == [exited])
            let left = Set(engine.containers.map(\.id))
            #expect(!left.contains(unknownDeployment) && !left.contains(unknownClass) && !left.contains(exited))
            #expect(engine.running.contains { $0.id == foreign }, "another server's container is not this server's to touch")
        }
    }

    @Test("max_instances: the object past the limit gets 503 with Cloudflare's text until a slot frees")
    func maxInstances() async throws {
        try await ControlPlane.with(maxInstances: 2) { plane in
            let engine = plane.engine
            try await plane.deploy()
            _ = try await plane.instance(answering: "a")
            _ = try await plane.instance(answering: "b")
            let refused = try await plane.request("c")
            #expect(refused.status == 503)
            #expect(refused.body.contains("There is no Container instance available at this time"))
            #expect(refused.body.contains("max_instances = 2"))
            #expect(engine.running.count == 2)

            let a = try #require(engine.running.first { $0.spec.labels[BerthLabel.objectName] == "a" })
            engine.exit(a.id, code: 0)
            try await plane.eventually("the exited instance's slot is free") { try await plane.request("c").status == 200 }
            #expect(engine.running.count == 2)
        }
    }

    @Test("a start the engine refuses is a 500 \"Failed to start container\" and is recorded as the class's failure")
    func startFailure() async throws {
        try await ControlPlane.with { plane in
            let engine = plane.engine
            try await plane.deploy()
            engine.failStarts(with: BerthError(.engineError, "no space left on device"))
            let failed = try await plane.request("a")
            #expect(failed.status == 500)
            #expect(failed.body.hasPrefix("Failed to start container: no space left on device"))
            let views = await plane.deployer.containerViews()
            #expect(views.first?.state == .degraded)
            engine.failStarts(with: nil)
            #expect(try await plane.request("a").status == 200)
        }
    }

    @Test("deleting a class stops its instances; its requests fail with the reason until a deployment brings it back")
    func deleteClass() async throws {
        try await ControlPlane.with { plane in
            let engine = plane.engine
            try await plane.deploy()
            _ = try await plane.instance(answering: "a")
            #expect(try await plane.deployer.deleteClass("MyContainer") == 1)
            #expect(engine.running.isEmpty)
            let refused = try await plane.request("a")
            #expect(refused.status == 503)
            #expect(refused.body.contains("was deleted with `berth containers delete`"))
            try await plane.deploy()
            #expect(try await plane.request("a").status == 200)
        }
    }
}
