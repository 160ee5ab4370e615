import Berth
import BerthAPI
import BerthConfig
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
    /// `berth.websockets`: the message size cap of the sockets of `WebSocketPair`s.
    let webSockets: WebSocketSettings

    public init(worker: W, env: Env, webSockets: WebSocketSettings = WebSocketSettings()) {
        self.worker = worker
        self.env = env
        self.webSockets = webSockets
    }

    public func respond(to request: Hummingbird.Request, context: GatewayContext) async throws -> Hummingbird.Response {
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        var head = request.head
        // The container port is the Worker's to choose (`switchPort`), never the client's.
        head.headerFields[.containerTargetPort] = nil
        var workerRequest = Berth.Request(
            head: head, body: hasBody ? Body(stream: request.body) : .empty, clientAddress: context.remoteAddress?.ipAddress
        )
        workerRequest.eventLoop = context.channel.eventLoop
        let response: Berth.Response
        do {
            response = try await worker.fetch(workerRequest, env: env)
        } catch {
            context.logger.error("the Worker failed", metadata: ["error": "\(error)"])
            response = .error(BerthError.wrap(error, "the Worker failed"))
        }
        if let socket = response.webSocket {
            return await switchResponse(response, socket: socket, request: workerRequest, context: context)
        }
        return Self.hummingbird(response)
    }

    /// A Worker's response as Hummingbird writes it, its body streamed.
    static func hummingbird(_ response: Berth.Response) -> Hummingbird.Response {
        let body = response.body.isEmpty ? ResponseBody() : ResponseBody(asyncSequence: response.body)
        return Hummingbird.Response(status: response.head.status, headers: response.head.headerFields, body: body)
    }

    /// The Worker's 101 with a WebSocket: the client's connection switches to it once the
    /// 101 is written (see ``WarmProxyHandler``). A 101 that cannot switch (the request was no
    /// handshake, the connection is HTTP/2) becomes Berth's 500, and the socket closes.
    func switchResponse(_ response: Berth.Response, socket: Berth.WebSocket, request: Berth.Request, context: GatewayContext) async -> Hummingbird.Response {
        var headers = response.head.headerFields
        let gatewaySocket: GatewaySocket
        switch socket.backend {
        case .container(let container):
            guard let relay = (container as? ContainerSocket)?.relay() else {
                return Self.error(BerthError(.internal, "the Worker returned a container's WebSocket it had accepted; return it unaccepted, or relay its messages itself"))
            }
            gatewaySocket = .relay(relay)
        case .pairClient(let link):
            guard let key = request.headers[HTTPField.Name("Sec-WebSocket-Key")!], request.isWebSocketUpgrade else {
                link.fail()
                return Self.error(BerthError(.internal, "the Worker answered with a WebSocketPair to a request that is not a WebSocket handshake"))
            }
            headers[HTTPField.Name("Sec-WebSocket-Accept")!] = WebSocketAccept.value(for: key)
            gatewaySocket = .pair(link, maxMessageBytes: webSockets.maxMessageBytes)
        case .pairServer:
            return Self.error(BerthError(.internal, "the Worker returned the server end of a WebSocketPair; return pair.client and keep pair.server"))
        }
        let channel = context.channel
        let expected = try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: WarmProxyHandler.self).expectSocket(gatewaySocket)
        }.get()
        guard expected == true else {
            gatewaySocket.abandon()
            return Self.error(BerthError(.internal, "the Worker answered 101 with a WebSocket, but this connection cannot switch (it is no HTTP/1.1 WebSocket handshake)"))
        }
        return Hummingbird.Response(status: .switchingProtocols, headers: headers, body: ResponseBody())
    }

    static func error(_ error: BerthError) -> Hummingbird.Response {
        hummingbird(.error(error))
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
    public func warmLease(for head: HTTPRequestHead, classes: [String: ContainerClass]) -> ContainerLease? {
        let headers = head.headers
        guard let (binding, name) = routes.resolve(target: head.uri, fields: headers),
              let containerClass = classes[binding]
        else { return nil }
        return containerClass.getByName(name).tryAcquireWarm()
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
