import BerthAPI
import BerthConfig
import BerthCore
import Foundation

/// `berth secret put|list|delete`. A change registers a new deployment with the current one's
/// content (source `secret`), as `wrangler secret put` deploys a new version: new instances
/// get the new value at once, running ones roll over per the deployment's rollout mode.
extension Deployer {
    public func secretViews() throws(BerthError) -> [SecretView] {
        try requireSecrets().list()
    }

    /// Stores a secret; refused when the current configuration uses the name as a var or
    /// an `env_vars` entry (one namespace, as on Cloudflare).
    public func putSecret(_ name: String, value: String) async throws(BerthError) -> SecretChange {
        let store = try requireSecrets()
        try SecretName.validate(name)
        try SecretName.validate(value: value)
        if let current { try checkSecretNames(current.config, names: [name]) }
        let view = try store.put(name, value: value)
        logger.info("secret stored", metadata: ["secret": "\(name)"])
        return SecretChange(secret: view, deployment: try await redeployForSecrets())
    }

    public func deleteSecret(_ name: String) async throws(BerthError) -> SecretChange {
        let view = try requireSecrets().delete(name)
        logger.info("secret deleted", metadata: ["secret": "\(name)"])
        return SecretChange(secret: view, deployment: try await redeployForSecrets())
    }

    /// The secrets for a deployment's classes and `env`. One that a hand-edited file made
    /// clash with the configuration is logged; the secret wins in containers.
    func secretValues(for config: ProjectConfig) throws(BerthError) -> SecretValues {
        guard let secrets else { return SecretValues() }
        let values = try secrets.values()
        if let clash = secretClash(config, names: Array(values.values.keys)) {
            logger.warning("a secret has the name of a var", metadata: ["error": "\(clash.message)"])
        }
        return values
    }

    /// Refuses a configuration that uses a secret's name as a var or an environment variable.
    func checkSecretNames(_ config: ProjectConfig, names: [String]? = nil) throws(BerthError) {
        guard let secrets else { return }
        var all = names ?? []
        if names == nil { all = try secrets.list().map(\.name) }
        if let clash = secretClash(config, names: all) { throw clash }
    }

    private func secretClash(_ config: ProjectConfig, names: [String]) -> BerthError? {
        for name in names.sorted() {
            var places = SecretName.conflicts(name, in: config)
            for container in config.containers where registry.containerTypes[container.className]?.envVars[name] != nil {
                places.append("envVars of the Swift class \(container.className)")
            }
            if !places.isEmpty { return SecretName.conflictError(name, places: places, file: (config.file as NSString).lastPathComponent) }
        }
        return nil
    }

    private func requireSecrets() throws(BerthError) -> SecretStore {
        guard let secrets else { throw BerthError(.unavailable, "this server keeps no secrets (it has no state folder)") }
        return secrets
    }

    /// A deployment of the current content with the new secrets; nil when nothing is deployed.
    private func redeployForSecrets() async throws(BerthError) -> String? {
        guard let current else { return nil }
        let next = Deployment(
            config: current.config, images: current.images, rollout: current.rollout, source: "secret",
            rollbackOf: current.rollbackOf ?? current.id, worker: current.worker
        )
        do {
            return try await deploy(next).id
        } catch {
            // New instances still get the change.
            try? activate(current)
            throw BerthError(error.code, "the secret change is stored, but deploying it failed: \(error.message)", cause: error)
        }
    }
}
