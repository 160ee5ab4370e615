import BerthCore
import BerthServer
import DockerEngine
import Foundation

/// Pushing an image Berth built to an OCI registry (`--registry HOST:PORT`), with the
/// registry's credentials from `BERTH_REGISTRY_USERNAME` and `BERTH_REGISTRY_PASSWORD`.
enum ImagePush {
    /// `berth.local/app/web:tag` → `HOST:PORT/app/web:tag`; a reference that names no
    /// `berth.local` repository keeps its path under the registry.
    static func target(_ reference: String, registry: String) -> (repository: String, tag: String) {
        var (repository, tag) = ImageView.split(reference)
        let parts = repository.split(separator: "/")
        if let first = parts.first, parts.count > 1, first.contains(".") || first.contains(":") || first == "localhost" {
            repository = parts.dropFirst().joined(separator: "/")
        }
        return ("\(registry)/\(repository)", tag)
    }

    /// Tags `reference` for `registry` and pushes it, a line per layer event people care about.
    static func push(_ reference: String, registry: String, client: DockerClient, say: @escaping @Sendable (String) -> Void) async throws(BerthError) -> String {
        let (repository, tag) = target(reference, registry: registry)
        try await client.tagImage(reference, repository: repository, tag: tag)
        let environment = ProcessInfo.processInfo.environment
        let auth = RegistryAuth(
            username: environment["BERTH_REGISTRY_USERNAME"], password: environment["BERTH_REGISTRY_PASSWORD"], serverAddress: registry
        )
        say("pushing \(repository):\(tag)")
        try await client.push(repository, tag: tag, auth: auth) { message in
            guard let status = message.status, message.progress == nil else { return }
            if status.hasPrefix("Pushed") || status.hasPrefix("Layer already exists") || status.contains("digest:") {
                say("  \(message.id.map { "\($0): " } ?? "")\(status)")
            }
        }
        return "\(repository):\(tag)"
    }
}
