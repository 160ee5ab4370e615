import ArgumentParser
import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import DockerEngine
import Foundation
import Logging

struct ContainersBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an image from a folder's Dockerfile through the engine (cached layers), optionally pushing it."
    )

    @Argument(help: "The build context folder.", completion: .directory)
    var path: String

    @Option(name: [.short, .customLong("tag")], help: "NAME:TAG of the image.")
    var tag: String

    @Option(name: [.short, .customLong("file")], help: "The Dockerfile (default: PATH/Dockerfile).")
    var dockerfile: String?

    @Flag(help: "Push the image after building (to --registry, or to the registry its name starts with).")
    var push = false

    @Option(help: "The OCI registry (HOST:PORT) to push to; credentials from BERTH_REGISTRY_USERNAME and BERTH_REGISTRY_PASSWORD.")
    var registry: String?

    func validate() throws {
        guard tag.contains(":") || !tag.isEmpty else { throw ValidationError("give the image a name: -t NAME:TAG") }
        guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no folder \(path)") }
    }

    func run() async throws {
        let context = (path as NSString).standardizingPath
        let reference = tag.contains(":") ? tag : tag + ":latest"
        let request = ImageBuildRequest(
            contextDirectory: context, dockerfile: dockerfile ?? (context as NSString).appendingPathComponent("Dockerfile"), tags: [reference],
            labels: [BerthLabel.app: ImageView.split(reference).repository.split(separator: "/").last.map(String.init) ?? "image"]
        )
        let registry = self.registry
        let push = self.push
        do {
            try await DockerClient.with(logger: Logger(label: "berth")) { client in
                let engine = DockerRuntime(client: client)
                let printer = ImageBuilder.printer(printLine)
                let imageID = try await engine.buildImage(request) { printer(reference, $0) }
                printLine("Built \(reference) (\(imageID.prefix(19)))")
                if push {
                    let target = try pushTarget(reference, registry: registry)
                    let pushed = try await ImagePush.push(reference, registry: target, images: engine, say: printLine)
                    printLine("Pushed \(pushed)")
                }
            }
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct ContainersPushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Push an image to an OCI registry.")

    @Argument(help: "The image's NAME:TAG.")
    var tag: String

    @Option(help: "The OCI registry (HOST:PORT); default: the registry the image's name starts with.")
    var registry: String?

    func run() async throws {
        let reference = tag
        let registry = self.registry
        do {
            try await DockerClient.with(logger: Logger(label: "berth")) { client in
                let engine = DockerRuntime(client: client)
                do {
                    _ = try await engine.inspectImage(reference)
                } catch let error as BerthError where error.code == .notFound {
                    throw BerthError(.notFound, "no image \(reference) on the engine; build it with `berth containers build PATH -t \(reference)`")
                }
                let target = try pushTarget(reference, registry: registry)
                let pushed = try await ImagePush.push(reference, registry: target, images: engine, say: printLine)
                printLine("Pushed \(pushed)")
            }
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

/// `--registry`, else `BERTH_REGISTRY`, else the registry host the name starts with.
func pushTarget(_ reference: String, registry: String?) throws(BerthError) -> String {
    if let registry = registry ?? ProcessInfo.processInfo.environment["BERTH_REGISTRY"], !registry.isEmpty { return registry }
    let first = reference.split(separator: "/").first.map(String.init) ?? ""
    if reference.contains("/"), first.contains(".") || first.contains(":"), first != "berth.local" { return first }
    throw BerthError(.invalidInput, "no registry to push \(reference) to: pass --registry HOST:PORT (or set BERTH_REGISTRY)")
}

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "The images Berth built.",
        subcommands: [ImagesListCommand.self, ImagesDeleteCommand.self, ImagesPruneCommand.self]
    )
}

struct ImagesListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List images: REPOSITORY, TAG (digest tags hidden).")

    @Option(help: "Only images whose REPOSITORY:TAG matches this regular expression.")
    var filter: String?

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        do {
            let query = filter.map { "?filter=\(pathComponent($0))" } ?? ""
            let views: [ImageView] = try await selection.client().get("/api/images\(query)")
            if json { return print(try jsonText(views)) }
            var table = Table(header: ["REPOSITORY", "TAG"])
            for view in views { table.rows.append([view.repository, view.tag]) }
            print(table.render())
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}

struct ImagesDeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete an image tag; refused for an image the current deployment runs."
    )

    @Argument(help: "IMAGE:TAG, as `images list` shows it.")
    var image: String

    @Flag(name: [.short, .customLong("yes")], help: "Do not ask for confirmation.")
    var yes = false

    @OptionGroup var selection: ServerSelection

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        do {
            if !yes, try !confirm("Delete image \(image)?") {
                return printLine("Not deleted.")
            }
            let result: [String: [String]] = try await selection.client().delete("/api/images?ref=\(pathComponent(image))")
            if json { return print(try jsonText(result)) }
            printLine("Deleted \(image)" + ((result["deleted"] ?? []).isEmpty ? " (the image stays: other tags use it)" : ""))
        } catch let error as BerthError {
            throw fail(error)
        }
    }
}
