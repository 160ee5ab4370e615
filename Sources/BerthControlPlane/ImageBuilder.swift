import Foundation
import BerthConfig
import BerthCore
import DockerEngine

/// Builds (or pulls) the image of every container class of a project through the engine,
/// reusing its layer cache.
public struct ImageBuilder: Sendable {
    let client: DockerClient

    public init(client: DockerClient) {
        self.client = client
    }

    /// The tag Berth gives a container's image: `berth.local/<app>/<container>:<version>`.
    public static func tag(app: String, container: String, version: String) -> String {
        "berth.local/\(sanitize(app))/\(sanitize(container)):\(version)"
    }

    /// Lowercase letters, digits, `.`, `_` and `-`, as image names need.
    static func sanitize(_ text: String) -> String {
        let mapped = text.lowercased().map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-") ? c : "-"
        }
        let trimmed = String(mapped).trimmingCharacters(in: CharacterSet(charactersIn: "-._"))
        return trimmed.isEmpty ? "app" : trimmed
    }

    /// Builds every container of `config`, reporting progress per container.
    public func buildAll(
        _ config: ProjectConfig, version: String, labels: [String: String] = [:],
        progress: @Sendable (String, BuildEvent) -> Void = { _, _ in }
    ) async throws(BerthError) -> [String: BuiltImage] {
        var images: [String: BuiltImage] = [:]
        for container in config.containers {
            images[container.name] = try await build(container, app: config.name, version: version, labels: labels) { progress(container.name, $0) }
        }
        return images
    }

    public func build(
        _ container: ContainerConfig, app: String, version: String, labels: [String: String] = [:],
        progress: (BuildEvent) -> Void = { _ in }
    ) async throws(BerthError) -> BuiltImage {
        let reference: String
        switch container.image {
        case .dockerfile(let dockerfile, let context):
            reference = Self.tag(app: app, container: container.name, version: version)
            var options = BuildOptions(contextDirectory: context, dockerfile: dockerfile, tags: [reference])
            options.buildArgs = container.imageVars
            options.labels = labels.merging([BerthLabel.app: app, "berth.container": container.name]) { $1 }
            do {
                do {
                    _ = try await client.buildImage(options, progress: progress)
                } catch where error.code == .buildFailed && error.message.contains("unable to find image") {
                    // The engine's builder picked a cached layer that an image removal running
                    // at the same time deleted; once more, without that layer in the cache.
                    _ = try await client.buildImage(options, progress: progress)
                }
            } catch where error.code == .buildFailed {
                throw BerthError(.buildFailed, "the image of container \(container.name) did not build: \(error.message)", cause: error)
            }
        case .reference(let image):
            reference = image
            do {
                _ = try await client.inspectImage(image)
            } catch where error.code == .notFound {
                progress(.output("pulling \(image)"))
                try await client.pull(image) { progress(.output($0.line)) }
            }
        }
        let details = try await client.inspectImage(reference)
        let ports = details.config.exposedPorts.compactMap { spec -> Int? in
            let parts = spec.split(separator: "/")
            return parts.count == 2 && parts[1] != "tcp" ? nil : Int(parts[0])
        }.sorted()
        return BuiltImage(reference: reference, id: details.id, exposedPorts: ports)
    }
}
