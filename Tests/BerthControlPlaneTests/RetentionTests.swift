import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthTestSupport
import Foundation
import Testing

/// `berth.retention` on the in-memory driver: which deployments and images go after a deploy,
/// and which never do.
@Suite("Retention, in process")
struct RetentionTests {
    /// The tags of the images the engine holds.
    static func tags(_ engine: MemoryEngine) -> Set<String> { Set(engine.images.flatMap(\.tags)) }

    @Test("after N+2 deploys the last N stay: the two oldest leave the store and their images the engine; rollback to one says it was pruned")
    func keepsTheLastN() async throws {
        try await ControlPlane.with(berth: #"{ "retention": { "deployments": 2 } }"#) { plane in
            var deployments: [Deployment] = []
            for version in 1...4 {
                try plane.project.writeDockerfile(label: "v\(version)")
                let deployment = try await plane.deploy()
                deployments.append(deployment)
                try await plane.eventually("the rollout finishes") { await plane.deployer.progress(of: deployment.id).isFinished }
            }
            let ids = deployments.map(\.id)
            #expect(await plane.deployer.deploymentViews().map(\.id) == [ids[3], ids[2]])
            #expect(try await plane.store.deployments().map(\.id) == [ids[3], ids[2]])
            let images = deployments.map { $0.images["web"]!.reference }
            #expect(Self.tags(plane.engine).isSuperset(of: [images[3], images[2]]))
            #expect(Self.tags(plane.engine).isDisjoint(with: [images[0], images[1]]))
            #expect(plane.engine.count("remove image") == 2)
            #expect(try await plane.instance(answering: "a").isEmpty == false, "the serving deployment answers")

            let error = await #expect(throws: BerthError.self) { try await plane.deployer.rollback(to: ids[0], rollout: nil) }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("pruned") == true && error?.message.contains("berth.retention") == true)
            let unknown = await #expect(throws: BerthError.self) { try await plane.deployer.rollback(to: "0123456789", rollout: nil) }
            #expect(unknown?.message.contains("no deployment 0123456789") == true)
            #expect(try await plane.deployer.rollback(to: ids[2], rollout: nil).rollbackOf == ids[2], "kept ones roll back")
        }
    }

    @Test("a deployment whose instances still run (rollout none) is kept with its image, and goes once they are gone")
    func runningInstancesKeepTheirDeployment() async throws {
        try await ControlPlane.with(berth: #"{ "retention": { "deployments": 1 } }"#) { plane in
            let first = try await plane.deploy()
            _ = try await plane.instance(answering: "a")
            try plane.project.writeDockerfile(label: "v2")
            let second = try await plane.deploy(rollout: .none)
            try plane.project.writeDockerfile(label: "v3")
            let third = try await plane.deploy(rollout: .none)
            #expect(await plane.deployer.deploymentViews().map(\.id) == [third.id, first.id], "the second never ran an instance")
            #expect(Self.tags(plane.engine).contains(first.images["web"]!.reference))
            #expect(!Self.tags(plane.engine).contains(second.images["web"]!.reference))
            #expect(plane.engine.running.map { $0.spec.labels[BerthLabel.deployment] } == [first.id])

            await plane.registry["MyContainer"]?.stopAll()
            try plane.project.writeDockerfile(label: "v4")
            let fourth = try await plane.deploy(rollout: .none)
            #expect(await plane.deployer.deploymentViews().map(\.id) == [fourth.id])
            #expect(!Self.tags(plane.engine).contains(first.images["web"]!.reference))
        }
    }

    @Test("an image a kept deployment uses stays: a rollback's deployment runs the image of the one it restored")
    func sharedImagesStay() async throws {
        try await ControlPlane.with(berth: #"{ "retention": { "deployments": 2 } }"#) { plane in
            let first = try await plane.deploy()
            try plane.project.writeDockerfile(label: "v2")
            let second = try await plane.deploy()
            let restored = try await plane.deployer.rollback(to: first.id, rollout: .immediate)
            #expect(await plane.deployer.deploymentViews().map(\.id) == [restored.id, second.id])
            #expect(Self.tags(plane.engine).contains(first.images["web"]!.reference))
            #expect(plane.engine.count("remove image") == 0)
            #expect(try await plane.instance(answering: "a").isEmpty == false, "the restored image starts")
            let again = try await plane.deployer.rollback(to: first.id, rollout: .immediate)
            #expect(again.rollbackOf == first.id && again.images == first.images, "a pruned deployment's content lives on in the rollback to it")
        }
    }

    @Test("images the configuration names are the user's: a pruned deployment leaves them on the engine")
    func namedImagesStay() async throws {
        try await ControlPlane.with(berth: #"{ "retention": { "deployments": 1 } }"#) { plane in
            plane.engine.addImage("example.org/team/web:1")
            let named = try await plane.deploy { $0.containers[0].image = .reference("example.org/team/web:1") }
            _ = try await plane.deploy()
            #expect(await plane.deployer.deploymentViews().count == 1)
            #expect(try await plane.store.prunedDeployments() == [named.id])
            #expect(Self.tags(plane.engine).contains("example.org/team/web:1"))
            #expect(plane.engine.count("remove image") == 0)
        }
    }
}
