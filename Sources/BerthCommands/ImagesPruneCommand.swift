import ArgumentParser
import BerthAPI
import BerthConfig
import BerthCore
import DockerEngine
import Foundation
import Logging

struct ImagesPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove dangling images Berth built for the project, and the engine's build cache.",
        discussion: """
            Images: only untagged ones labelled berth.app=<the project's name> (--all-apps: any Berth project's), never \
            other images on the engine. The build cache has no owner labels: pruning it frees records every user of the \
            engine could reuse (those no image in use needs); --build-cache-filter narrows it with the engine's filters \
            (until=24h, id=…, type=…), --no-build-cache skips it. Talks to the engine directly (DOCKER_HOST).
            """
    )

    @Option(name: .customLong("project"), help: "The project folder whose configuration names the app (default: the current folder).", completion: .directory)
    var project: String = "."

    @Flag(help: "Dangling images of every Berth project on the engine, not only this one's.")
    var allApps = false

    @Flag(help: "Leave the build cache alone.")
    var noBuildCache = false

    @Option(help: "An engine filter for the build cache prune, KEY=VALUE (repeatable): until=24h, id=ID, type=regular, …")
    var buildCacheFilter: [String] = []

    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        for filter in buildCacheFilter where !filter.contains("=") || filter.hasPrefix("=") {
            throw ValidationError("--build-cache-filter \(filter): write KEY=VALUE, e.g. until=24h")
        }
    }

    func run() async throws {
        do {
            let labels: [String]
            if allApps {
                labels = [BerthLabel.app]
            } else {
                let report = ConfigLoader.load(folder: project)
                guard let config = report.config else {
                    throw BerthError(.invalidInput, "no project configuration in \(project) to name the app: pass --project FOLDER or --all-apps")
                }
                labels = ["\(BerthLabel.app)=\(config.name)"]
            }
            let what = (allApps ? "dangling images of every Berth project" : "dangling images of \(labels[0])")
                + (noBuildCache ? "" : " and the engine's build cache")
            if !yes, try !confirm("Remove \(what)?") {
                return printLine("Nothing removed.")
            }
            var filters: [String: [String]] = [:]
            for filter in buildCacheFilter {
                let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
                filters[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
            }
            let pruneCache = !noBuildCache
            let view = try await DockerClient.with(logger: Logger(label: "berth")) { client -> ImagePruneView in
                let images = try await client.pruneImages(labels: labels)
                let cache = pruneCache ? try await client.pruneBuildCache(filters: filters) : BuildCachePruneReport()
                return ImagePruneView(
                    labels: labels, imagesDeleted: images.imagesDeleted.compactMap(\.deleted), imagesSpaceReclaimed: images.spaceReclaimed,
                    buildCachePruned: pruneCache, buildCacheRecords: cache.cachesDeleted.count, buildCacheSpaceReclaimed: cache.spaceReclaimed
                )
            }
            if json { return print(try jsonText(view)) }
            printLine("Images (\(labels.joined(separator: ", "))): \(view.imagesDeleted.count) removed, \(Self.bytes(view.imagesSpaceReclaimed)) reclaimed")
            printLine(pruneCache
                ? "Build cache: \(view.buildCacheRecords) records removed, \(Self.bytes(view.buildCacheSpaceReclaimed)) reclaimed"
                : "Build cache: left alone (--no-build-cache)")
            printLine("Total reclaimed: \(Self.bytes(view.spaceReclaimed))")
        } catch let error as BerthError {
            throw fail(error)
        }
    }

    /// `1536` → `1.5 KiB`.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(String(format: "%.1f", value)) \(units[unit])"
    }
}
