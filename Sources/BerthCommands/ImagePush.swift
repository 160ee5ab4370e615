import BerthAPI
import BerthCore
import BerthRuntime
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
    static func push(_ reference: String, registry: String, images: any ImageStore, say: @escaping @Sendable (String) -> Void) async throws(BerthError) -> String {
        let (repository, tag) = target(reference, registry: registry)
        try await images.tagImage(reference, repository: repository, tag: tag)
        let environment = ProcessInfo.processInfo.environment
        let credentials = RegistryCredentials(
            username: environment["BERTH_REGISTRY_USERNAME"], password: environment["BERTH_REGISTRY_PASSWORD"], server: registry
        )
        say("pushing \(repository):\(tag)")
        try await images.pushImage(repository: repository, tag: tag, credentials: credentials) { say("  \($0)") }
        return "\(repository):\(tag)"
    }
}
