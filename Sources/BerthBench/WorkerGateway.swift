import Berth
import BerthAPI
import BerthControlPlane
import BerthServer
import Hummingbird

/// The Swift Worker the bench measures: the containers template's Worker written in Swift
/// (`/singleton…` to the singleton object, anything else to the object named by its path),
/// served by the gateway's Worker path against the same deployment, so it reaches the very
/// container the zero-code routes reach.
struct BenchWorker: Worker {
    func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
        if request.pathname.hasPrefix("/singleton") {
            return await getContainer(env["WEB"]).fetch(request)
        }
        return await env["WEB"].getByName(request.pathname).fetch(request)
    }
}

/// Serves ``BenchWorker`` with the current deployment's `env`.
struct WorkerGateway: HTTPResponder {
    typealias Context = GatewayContext
    let serving: ServingState

    func respond(to request: Hummingbird.Request, context: GatewayContext) async throws -> Hummingbird.Response {
        guard let current = serving.current else { return Hummingbird.Response(status: .serviceUnavailable) }
        return try await GatewayResponder(worker: BenchWorker(), env: current.platform.env).respond(to: request, context: context)
    }
}
