import Berth
import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// The gateway: turns each HTTP request into a ``Berth/Request``, hands it to the Worker
/// with the project's `env`, and streams the Worker's response back.
public struct GatewayResponder<W: Worker>: HTTPResponder {
    public typealias Context = GatewayContext
    let worker: W
    let env: Env

    public init(worker: W, env: Env) {
        self.worker = worker
        self.env = env
    }

    public func respond(to request: Hummingbird.Request, context: GatewayContext) async throws -> Hummingbird.Response {
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        var head = request.head
        // The container port is the Worker's to choose (`switchPort`), never the client's.
        head.headerFields[.containerTargetPort] = nil
        let workerRequest = Berth.Request(
            head: head, body: hasBody ? Body(stream: request.body) : .empty, clientAddress: context.remoteAddress?.ipAddress
        )
        let response: Berth.Response
        do {
            response = try await worker.fetch(workerRequest, env: env)
        } catch {
            context.logger.error("the Worker failed", metadata: ["error": "\(error)"])
            response = .error(BerthError.wrap(error, "the Worker failed"))
        }
        let body = response.body.isEmpty ? ResponseBody() : ResponseBody(asyncSequence: response.body)
        return Hummingbird.Response(status: response.head.status, headers: response.head.headerFields, body: body)
    }
}

/// The Worker for projects without Swift code: the routes declared under `berth.routes`
/// (or the containers template's routes), each sending the request to one object.
public struct RoutesWorker: Worker {
    let routes: RouteTable
    let appName: String

    public init(routes: RouteTable, appName: String) {
        self.routes = routes
        self.appName = appName
    }

    public func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
        guard let (binding, name) = routes.resolve(request) else {
            if request.pathname == "/" { return index() }
            return .text("No route for \(request.pathname). Routes: \(routeList())\n", status: .notFound)
        }
        return await env[binding].getByName(name).fetch(request)
    }

    /// A lease on the healthy container a request goes to, for the gateway's warm path;
    /// nil when the request needs this Worker (no route, an object whose container is not
    /// healthy now). A client's `cf-container-target-port` chooses nothing: the lease is on
    /// the default port, and the header is not forwarded (``ForwardingPolicy``).
    public func warmLease(for head: HTTPRequestHead, env: Env) -> ContainerLease? {
        let headers = head.headers
        guard let (binding, name) = routes.resolve(target: head.uri, fields: headers),
              let namespace = env.namespaces[binding]
        else { return nil }
        return namespace.containerClass.getByName(name).tryAcquireWarm()
    }

    func routeList() -> String {
        routes.configs.map { "\($0.prefix) → \($0.binding) (\($0.object))" }.joined(separator: ", ")
    }

    /// `GET /`: what this Worker serves, as the template's index does.
    func index() -> Berth.Response {
        var lines = ["Berth is serving \(appName).", "", "Routes:"]
        for route in routes.configs {
            lines.append("  \(route.prefix)  →  \(route.binding), object by \(route.object)")
        }
        if routes.configs.isEmpty {
            lines.append("  (none: add \"routes\" under \"berth\" in the configuration)")
        }
        return .text(lines.joined(separator: "\n") + "\n")
    }
}

/// Any Worker, as one concrete type.
public struct AnyWorker: Worker {
    let base: any Worker
    public init(_ base: any Worker) { self.base = base }
    public func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
        try await base.fetch(request, env: env)
    }
}
