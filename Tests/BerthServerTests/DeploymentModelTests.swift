import BerthAPI
import BerthConfig
@testable import BerthControlPlane
import BerthCore
import BerthRuntime
@testable import BerthServer
import Foundation
import Testing

@Suite("Deployments, rollout plans and fingerprints")
struct DeploymentModelTests {
    func config(steps: String = "[10, 100]") throws -> ProjectConfig {
        let text = """
            {
              "name": "model",
              "containers": [{ "name": "web", "class_name": "Web", "image": "localhost:5000/model/web:1", "rollout_step_percentage": \(steps) }],
              "durable_objects": { "bindings": [{ "name": "WEB", "class_name": "Web" }] },
              "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Web"] }],
              "vars": { "GREETING": "hi" },
              "berth": { "classes": { "Web": { "sleep_after": "2m", "env_vars": { "A": "1" } } }, "routes": [{ "prefix": "/w", "binding": "WEB", "object": "singleton" }] }
            }
            """
        return try ConfigLoader.load(text: text, file: "wrangler.jsonc", folder: "/tmp/model").get()
    }

    @Test("a deployment survives the JSON the admin API and the state store use")
    func roundTrip() throws {
        let deployment = Deployment(
            id: "abc123", createdAt: Date(timeIntervalSince1970: 1_800_000_000), config: try config(),
            images: ["web": BuiltImage(reference: "berth.local/model/web:abc123", id: "sha256:1", exposedPorts: [8080])],
            rollout: .gradual, source: "deploy"
        )
        let data = try AdminJSON.encoder.encode(deployment)
        let decoded = try AdminJSON.decoder.decode(Deployment.self, from: data)
        #expect(decoded == deployment)
    }

    @Test("rollout steps are cumulative percentages ending in 100")
    func steps() throws {
        #expect(try config(steps: "[10, 100]").containers[0].rolloutSteps == [10, 100])
        #expect(try config(steps: "25").containers[0].rolloutSteps == [25, 50, 75, 100])
        #expect(try config(steps: "100").containers[0].rolloutSteps == [100])
        #expect(try config(steps: "[5, 50, 100]").containers[0].rolloutSteps == [5, 50, 100])
        #expect(Deployer.mergedSteps(try config(steps: "25").containers + config(steps: "[10, 100]").containers) == [10, 25, 50, 75, 100])
    }

    @Test("a fingerprint changes with what an instance runs, not with idle time or limits")
    func fingerprints() {
        var settings = ContainerSettings(app: "a", className: "Web", containerName: "web", image: "berth.local/a/web:1", defaultPort: 8080)
        settings.envVars = ["A": "1"]
        let base = ClassSpec(settings: settings, maxInstances: 5, deploymentID: "d1", imageID: "sha256:1")
        var retagged = base
        retagged.settings.image = "berth.local/a/web:2"
        retagged.deploymentID = "d2"
        retagged.settings.sleepAfter = .seconds(1)
        retagged.maxInstances = 1
        #expect(retagged.fingerprint == base.fingerprint)
        var changedEnv = base
        changedEnv.settings.envVars["A"] = "2"
        #expect(changedEnv.fingerprint != base.fingerprint)
        var changedImage = base
        changedImage.imageID = "sha256:2"
        #expect(changedImage.fingerprint != base.fingerprint)
    }

    @Test("image references split at the tag, registries with ports included")
    func imageReferences() {
        #expect(ImageView.split("berth.local/app/web:abc") == ("berth.local/app/web", "abc"))
        #expect(ImageView.split("127.0.0.1:5000/app/web:v1") == ("127.0.0.1:5000/app/web", "v1"))
        #expect(ImageView.split("127.0.0.1:5000/app/web") == ("127.0.0.1:5000/app/web", "latest"))
        #expect(Deployment.isValidID(Deployment.newID()))
        #expect(!Deployment.isValidID("Has Space"))
        #expect(!Deployment.isValidID(""))
    }
}
