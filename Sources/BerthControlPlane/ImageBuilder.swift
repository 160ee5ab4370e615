import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import Foundation

/// Builds (or pulls) the image of every container class of a project through the engine,
/// reusing its layer cache.
public struct ImageBuilder: Sendable {
    let images: any ImageStore

    public init(images: any ImageStore) {
        self.images = images
    }

    /// The tag Berth gives a container's image: `berth.local/<app>/<container>:<version>`.
    public static func tag(app: String, container: String, version: String) -> String {
        "\(tagPrefix)\(sanitize(app))/\(sanitize(container)):\(version)"
    }

    /// How every tag Berth gives an image begins.
    public static let tagPrefix = "berth.local/"

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
        progress: @escaping @Sendable (String, ImageBuildEvent) -> Void = { _, _ in }
    ) async throws(BerthError) -> [String: BuiltImage] {
        var images: [String: BuiltImage] = [:]
        for container in config.containers {
            images[container.name] = try await build(container, app: config.name, version: version, labels: labels) { progress(container.name, $0) }
        }
        return images
    }

    public func build(
        _ container: ContainerConfig, app: String, version: String, labels: [String: String] = [:],
        progress: @escaping @Sendable (ImageBuildEvent) -> Void = { _ in }
    ) async throws(BerthError) -> BuiltImage {
        let reference: String
        switch container.image {
        case .dockerfile(let dockerfile, let context):
            reference = Self.tag(app: app, container: container.name, version: version)
            let request = ImageBuildRequest(
                contextDirectory: context, dockerfile: dockerfile, tags: [reference], buildArgs: container.imageVars,
                labels: labels.merging([BerthLabel.app: app, "berth.container": container.name]) { $1 }
            )
            do {
                _ = try await images.buildImage(request, progress: progress)
            } catch where error.code == .buildFailed {
                throw BerthError(.buildFailed, "the image of container \(container.name) did not build: \(error.message)", cause: error)
            }
        case .reference(let image):
            reference = image
            do {
                _ = try await images.inspectImage(image)
            } catch where error.code == .notFound {
                progress(.output("pulling \(image)"))
                try await images.pullImage(image, progress: progress)
            }
        }
        let details = try await images.inspectImage(reference)
        return BuiltImage(reference: reference, id: details.id, exposedPorts: details.exposedPorts)
    }
}

extension ImageBuilder {
    /// Build progress as console lines: one per step, cache hits and the steps' output.
    public static func printer(_ say: @escaping @Sendable (String) -> Void) -> @Sendable (String, ImageBuildEvent) -> Void {
        { name, event in
            switch event {
            case .step(let number, let total, let instruction): say("[\(name)] step \(number)/\(total): \(instruction)")
            case .cacheHit: say("[\(name)]   (cached)")
            case .output(let line) where !line.hasPrefix("--->") && !line.hasPrefix("Removing intermediate"): say("[\(name)]   \(line)")
            case .output: break
            }
        }
    }
}
