import BerthAPI
import BerthCore

/// Runs the Swift Workers of deployments as processes of their own (the server's supervisor).
public protocol WorkerRunner: Sendable {
    /// Starts the Worker of `deployment` and returns once it is ready to take requests; nothing
    /// routes to it until the deployment is served. `app`: the name object ids derive from.
    func prepare(_ deployment: Deployment, app: String, secrets: [String: String]) async throws(BerthError)
}
