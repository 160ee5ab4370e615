import Berth
import BerthAPI
import BerthControlPlane
import BerthCore
import Hummingbird

/// The gateway of `berth serve`: each request goes to the Worker of the current deployment.
public struct ServingResponder: HTTPResponder {
    public typealias Context = GatewayContext
    let serving: ServingState

    public init(serving: ServingState) {
        self.serving = serving
    }

    public func respond(to request: Hummingbird.Request, context: GatewayContext) async throws -> Hummingbird.Response {
        guard let current = serving.current else {
            return Hummingbird.Response(
                status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8", .retryAfter: "5"],
                body: .init(byteBuffer: ByteBuffer(string: "Nothing is deployed on this Berth server yet: run `berth deploy` in the project folder.\n"))
            )
        }
        return try await GatewayResponder(worker: current.worker, env: current.platform.env, webSockets: current.platform.config.berth.websockets).respond(to: request, context: context)
    }
}
