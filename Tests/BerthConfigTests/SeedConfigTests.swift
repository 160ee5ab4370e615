import BerthConfig
import Foundation
import Testing

@Suite("The getting-started configuration")
struct SeedConfigTests {
    @Test("loads unchanged, with Cloudflare's defaults filled in")
    func seedLoads() throws {
        let report = try load(seedConfiguration)
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics.map(\.description))")
        let config = try report.get()
        #expect(config.containers.count == 1)
        let container = try #require(config.containers.first)
        #expect(container.name == "hello-containers")
        #expect(container.className == "MyContainer")
        #expect(container.bindings == ["MY_CONTAINER"])
        #expect(container.maxInstances == 10)
        #expect(container.instanceType == InstanceType.presets[0])
        #expect(container.instanceType.name == "lite")
        #expect(container.rolloutStepPercentage == [10, 100])
        #expect(container.rolloutActiveGracePeriod == 0)
        guard case .dockerfile(let path, let context) = container.image else {
            Issue.record("expected a Dockerfile image, got \(container.image)")
            return
        }
        #expect(path == config.folder + "/Dockerfile")
        #expect(context == config.folder)
        #expect(config.durableObjects == [DurableObjectBinding(name: "MY_CONTAINER", className: "MyContainer", scriptName: nil, storage: .sqlite)])
        #expect(config.berth == BerthSettings())
        #expect(config.berth.port == 8787)
        #expect(config.berth.adminIP == "127.0.0.1")
    }

    @Test("the Worker name falls back to the folder's name, and a container's name to <worker>-<class>")
    func defaultNames() throws {
        let text = config(container: #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#)
            .replacingOccurrences(of: #""name": "app","#, with: "")
        let project = try TempProject(files: ["wrangler.jsonc": text])
        defer { project.remove() }
        let loaded = try ConfigLoader.load(folder: project.folder).get()
        let folderName = URL(fileURLWithPath: project.folder).lastPathComponent
        #expect(loaded.name == folderName)
        #expect(loaded.containers.first?.name == "\(folderName)-MyContainer")
        #expect(loaded.containers.first?.maxInstances == 20)
    }

    @Test("the same configuration as wrangler.toml resolves to the same result")
    func seedAsTOML() throws {
        let toml = """
            # The seed, in TOML
            [[containers]]
            max_instances = 10
            name = "hello-containers"
            class_name = "MyContainer"
            image = "./Dockerfile"

            [[durable_objects.bindings]]
            name = "MY_CONTAINER"
            class_name = "MyContainer"

            [[migrations]]
            tag = "v1"
            new_sqlite_classes = [ "MyContainer" ]
            """
        let project = try TempProject(files: ["wrangler.toml": toml, "seed/wrangler.jsonc": seedConfiguration, "seed/Dockerfile": "FROM scratch\n"])
        defer { project.remove() }
        var fromTOML = try ConfigLoader.load(folder: project.folder).get()
        var fromJSONC = try ConfigLoader.load(folder: project.folder + "/seed").get()
        #expect(fromTOML.file.hasSuffix("wrangler.toml"))
        // Only the file, folder and derived names differ.
        for config in [fromTOML, fromJSONC] { #expect(config.containers.count == 1) }
        fromTOML.containers[0].image = .reference("x")
        fromJSONC.containers[0].image = .reference("x")
        #expect(fromTOML.containers == fromJSONC.containers)
        #expect(fromTOML.durableObjects == fromJSONC.durableObjects)
    }
}
