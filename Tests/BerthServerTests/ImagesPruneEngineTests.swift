import BerthAPI
import BerthCore
import DockerEngine
import Foundation
import Testing

/// `berth containers images prune` against the real engine, on images the test builds
/// (FROM scratch) and labels as its own.
@Suite("berth containers images prune on the engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct ImagesPruneEngineTests {
    /// Builds `berth.local/<app>/web:t` from a Dockerfile and a file whose content change with `version`.
    static func build(_ client: DockerClient, folder: String, app: String, version: String) async throws -> String {
        // Each version's own layer, so that removing one frees space.
        try "\(app) \(version)".write(toFile: folder + "/marker", atomically: true, encoding: .utf8)
        try "FROM scratch\nCOPY marker /marker\nLABEL version=\(version)\n".write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
        var options = BuildOptions(contextDirectory: folder, tags: ["berth.local/\(app)/web:t"])
        options.labels = [BerthLabel.app: app]
        return try await client.buildImage(options).imageID
    }

    /// Every image of `apps`, and the parent layers their removal leaves dangling.
    static func cleanUp(_ client: DockerClient, apps: [String]) async {
        for app in apps {
            await ServeTests.cleanUp(app: app)
            _ = try? await client.pruneImages(labels: ["\(BerthLabel.app)=\(app)"])
        }
    }

    @Test("removes the project's dangling images only: not its tagged one, not another app's; the build cache path runs, filtered to match nothing of others'")
    func prune() async throws {
        let app = "prune-" + UUID().uuidString.lowercased().prefix(8)
        let other = app + "-other"
        let folder = NSTemporaryDirectory() + "berth-\(app)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try GatewayFixture.configuration(app: app, maxInstances: 1, berth: "{}").write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
        let client = try DockerClient()
        defer { Task { try? await client.shutdown() } }
        do {
            let old = try await Self.build(client, folder: folder, app: app, version: "1")
            let current = try await Self.build(client, folder: folder, app: app, version: "2")
            let otherOld = try await Self.build(client, folder: folder, app: other, version: "1b")
            _ = try await Self.build(client, folder: folder, app: other, version: "2")
            #expect(old != current)

            // The build cache: records carry no owner, so the test narrows the prune with an
            // id no record has; the command's path (request, typed result) runs all the same.
            let nothing = Hex.random(bytes: 16)
            let result = try await berth([
                "containers", "images", "prune", "--project", folder, "--build-cache-filter", "id=\(nothing)", "-y", "--json",
            ])
            #expect(result.status == 0, "\(result.errors)")
            let view = try result.json(ImagePruneView.self)
            #expect(view.labels == ["\(BerthLabel.app)=\(app)"])
            #expect(view.imagesDeleted.contains(old))
            #expect(!view.imagesDeleted.contains(current) && !view.imagesDeleted.contains(otherOld))
            #expect(view.imagesSpaceReclaimed > 0)
            #expect(view.buildCachePruned && view.buildCacheRecords == 0)
            let missing = await #expect(throws: BerthError.self) { try await client.inspectImage(old) }
            #expect(missing?.code == .notFound)
            #expect(try await client.inspectImage(current).id == current)
            #expect(try await client.inspectImage(otherOld).id == otherOld, "another app's dangling image stays")

            let table = try await berth(["containers", "images", "prune", "--project", folder, "--no-build-cache", "-y"])
            #expect(table.status == 0, "\(table.errors)")
            #expect(table.output.contains("0 removed") && table.output.contains("left alone"), "\(table.output)")
        } catch {
            await Self.cleanUp(client, apps: [app, other])
            throw error
        }
        await Self.cleanUp(client, apps: [app, other])
    }
}
