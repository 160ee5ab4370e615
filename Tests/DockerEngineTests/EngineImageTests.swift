import BerthCore
import DockerEngine
import Foundation
import Testing

@Suite("Images on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct EngineImageTests {
    @Test("a rebuild of an unchanged folder reuses the cache and gives the same image")
    func cache() async throws {
        try await EngineFixture.with { f in
            // The run's unique file comes first, so no other build (even one running in parallel
            // with the same later steps) can have produced any of these layers.
            let context = try f.busyboxContext(files: ["unique.txt": UUID().uuidString])
            try """
                FROM scratch
                COPY unique.txt /unique.txt
                COPY busybox /bin/busybox
                ENV A=1
                CMD ["/bin/busybox", "true"]

                """.write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
            var options = BuildOptions(contextDirectory: context, tags: [f.tag("cache")])
            options.labels = f.labels
            var events: [BuildEvent] = []
            let first = try await f.client.buildImage(options) { events.append($0) }
            f.track(image: first.imageID)
            // Five Dockerfile instructions, and the LABEL step the engine adds for `labels`.
            #expect(first.steps == 6)
            #expect(events.first == .step(number: 1, total: 6, instruction: "FROM scratch"))
            #expect(events.contains(.imageID(first.imageID)))
            #expect(first.cachedSteps == 0)

            let second = try await f.client.buildImage(options)
            #expect(second.imageID == first.imageID)
            #expect(second.steps == first.steps)
            #expect(second.cachedSteps == first.steps - 1, "every step after FROM reuses its layer")
        }
    }

    @Test(".dockerignore, build args, labels and a Dockerfile path reach the image")
    func contextAndOptions() async throws {
        try await EngineFixture.with { f in
            let context = try f.busyboxContext(
                ["ARG GREETING=none", "ENV GREETING=$GREETING", "COPY . /ctx", "EXPOSE 8080", #"CMD ["/bin/busybox", "ls", "/ctx"]"#],
                files: [".dockerignore": "secret.txt\n*.log\n", "secret.txt": "s", "app.log": "l", "kept.txt": "k"]
            )
            try FileManager.default.moveItem(atPath: context + "/Dockerfile", toPath: context + "/Build.dockerfile")
            var options = BuildOptions(contextDirectory: context, dockerfile: "Build.dockerfile", tags: [f.tag("opts")])
            options.buildArgs = ["GREETING": "hi there"]
            options.labels = f.labels.merging(["org.example.role": "test"]) { $1 }
            let result = try await f.client.buildImage(options)
            f.track(image: result.imageID)

            let image = try await f.client.inspectImage(f.tag("opts"))
            #expect(image.id == result.imageID)
            #expect(image.config.labels["org.example.role"] == "test")
            #expect(image.config.exposedPorts == ["8080/tcp"])
            #expect(image.config.environment.contains("GREETING=hi there"))

            let id = try await f.client.createContainer(f.spec(f.tag("opts")))
            try await f.client.startContainer(id)
            #expect(try await f.client.waitContainer(id) == 0)
            var files: [String] = []
            for try await line in try await f.client.logLines(id) { files.append(line.text) }
            #expect(files.contains("kept.txt"))
            #expect(files.contains("busybox"))
            #expect(!files.contains("secret.txt"))
            #expect(!files.contains("app.log"))
        }
    }

    @Test("a failing build throws build_failed with the engine's message")
    func failingBuild() async throws {
        try await EngineFixture.with { f in
            // The failing step comes right after FROM scratch, so no intermediate layer is left behind.
            let context = try f.busyboxContext()
            try "FROM scratch\nCOPY missing-file.txt /x\n".write(toFile: context + "/Dockerfile", atomically: true, encoding: .utf8)
            var options = BuildOptions(contextDirectory: context, tags: [f.tag("broken")])
            options.labels = f.labels
            do {
                _ = try await f.client.buildImage(options)
                Issue.record("the build succeeded")
            } catch let error as BerthError {
                #expect(error.code == .buildFailed)
                #expect(error.message.contains("missing-file.txt"), "\(error.message)")
            }
        }
    }

    @Test("tag, list, inspect and remove images")
    func tagListRemove() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let repository = "berth-test/\(f.runID)-retag"
            try await f.client.tagImage(image, repository: repository, tag: "v2")
            f.track(image: "\(repository):v2")

            let listed = try await f.client.listImages(labels: [f.label])
            #expect(listed.count == 1)
            #expect(Set(listed.first?.repoTags ?? []) == Set([image, "\(repository):v2"]))
            #expect(try await f.client.listImages(reference: "\(repository):*").count == 1)

            let removed = try await f.client.removeImage("\(repository):v2")
            #expect(removed.contains { $0.untagged == "\(repository):v2" })
            #expect(try await f.client.listImages(reference: "\(repository):*").isEmpty)
            #expect(try await f.client.inspectImage(image).repoTags == [image])

            do {
                try await f.client.removeImage("\(repository):v2")
                Issue.record("removing a removed tag succeeded")
            } catch let error as BerthError {
                #expect(error.code == .notFound)
            }
        }
    }
}
