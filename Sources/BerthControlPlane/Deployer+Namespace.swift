import BerthAPI
import BerthCore

/// Object ids (`idFromName`) are derived from an app name. Which one must not depend on the
/// order a process saw its deployments in: a server that restored a deployment of app `a`
/// and was then deployed `b` (a renamed folder, a new `name`) kept deriving from `a`, while
/// the next process, restoring `b` first, derived from `b`: the same name, another object,
/// and a second container next to the adopted one. So the state folder keeps one name: the
/// first deployment's (for a state made before this was kept, the deployment it serves).
extension Deployer {
    static let objectNamespaceKey = "object_namespace"

    /// Gives the registry the state folder's name for object ids, keeping it on first use.
    func pinObjectNamespace(_ deployment: Deployment) async throws(BerthError) {
        guard registry.objectNamespace == nil else { return }
        let name: String
        if let kept = try await store.meta(Self.objectNamespaceKey) {
            name = kept
        } else {
            name = deployment.config.name
            try await store.setMeta(Self.objectNamespaceKey, name)
        }
        registry.objectNamespace = name
    }
}
