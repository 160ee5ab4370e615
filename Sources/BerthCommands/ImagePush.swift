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
    /// The registry's tag is only the push's: it is removed from the engine afterwards (the
    /// image keeps `reference`), so that retention and `images prune`, which remove Berth's
    /// own tags, free the image's disk.
    static func push(_ reference: String, registry: String, images: any ImageStore, say: @escaping @Sendable (String) -> Void) async throws(BerthError) -> String {
        let (repository, tag) = target(reference, registry: registry)
        let pushed = "\(repository):\(tag)"
        try await images.tagImage(reference, repository: repository, tag: tag)
        let environment = ProcessInfo.processInfo.environment
        let credentials = RegistryCredentials(
            username: environment["BERTH_REGISTRY_USERNAME"], password: environment["BERTH_REGISTRY_PASSWORD"], server: registry
        )
        say("pushing \(pushed)")
        do {
            try await images.pushImage(repository: repository, tag: tag, credentials: credentials) { say("  \($0)") }
        } catch {
            if pushed != reference { _ = try? await images.removeImage(pushed) }
            throw error
        }
        if pushed != reference { _ = try? await images.removeImage(pushed) }
        return pushed
    }
}
