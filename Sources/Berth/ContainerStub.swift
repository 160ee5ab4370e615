public import BerthCore
public import BerthRuntime
import HTTPTypes

/// A stub of one container-enabled Durable Object: what `env.MY_CONTAINER.get(id)` returns.
/// Getting a stub starts nothing; the first `fetch` starts the container.
public struct ContainerStub: Sendable {
    let controller: ContainerController
    let proxy: ContainerProxy

    init(controller: ContainerController, proxy: ContainerProxy) {
        self.controller = controller
        self.proxy = proxy
    }

    public var id: ObjectID { controller.objectID }

    /// Sends the request to the container: to the port in `cf-container-target-port` (see
    /// ``switchPort(_:_:)``), else `defaultPort`. Starts the container if needed.
    /// Failures come back as responses, as Cloudflare's do: 503 when no instance is available,
    /// 500 when the container fails to start, 502 when it drops the connection.
    public func fetch(_ request: Request) async -> Response {
        let port = request.headers[.containerTargetPort].flatMap { Int($0) }
        var request = request
        request.headers[.containerTargetPort] = nil
        return await containerFetch(request, port: port)
    }

    /// Sends the request to `port` (default: `defaultPort`), starting the container if needed.
    public func containerFetch(_ request: Request, port: Int? = nil) async -> Response {
        let started = ContinuousClock.now
        do {
            let lease = try await controller.acquire(port: port)
            if request.isWebSocketUpgrade {
                return try await openWebSocket(request, lease: lease, started: started)
            }
            let contentLength = request.headers[.contentLength].flatMap { Int($0) }
            let proxied = try await proxy.forward(
                request.head, body: request.body.isEmpty ? nil : request.body, contentLength: contentLength, lease: lease,
                clientAddress: request.clientAddress, scheme: request.head.scheme ?? "http"
            )
            ForwardingPolicy.report(controller, status: proxied.head.status.code, since: started)
            return Response(head: proxied.head, body: Body(stream: proxied.body))
        } catch {
            let failure = BerthError.wrap(error)
            let response = Response.error(failure)
            ForwardingPolicy.report(controller, status: response.head.status.code, since: started, failure: failure.code)
            return response
        }
    }

    /// A WebSocket handshake: the container's 101 with its socket (see ``WebSocket``), or its
    /// other answer.
    private func openWebSocket(_ request: Request, lease: ContainerLease, started: ContinuousClock.Instant) async throws(BerthError) -> Response {
        if let refusal = ForwardingPolicy.upgradeRefusal(
            .webSocket, method: request.method.rawValue, version: (1, 1), hasBody: !request.body.isEmpty
        ) {
            await lease.release()
            throw refusal
        }
        let opened = try await proxy.openWebSocket(
            request.head, lease: lease, clientAddress: request.clientAddress, scheme: request.head.scheme ?? "http", on: request.eventLoop
        )
        ForwardingPolicy.report(controller, status: opened.head.status.code, since: started)
        var response = Response(head: opened.head, body: opened.body.map { Body($0) } ?? .empty)
        if let socket = opened.socket { response.webSocket = WebSocket(.container(socket)) }
        return response
    }

    /// Starts the container without waiting for its ports.
    public func start(_ options: StartOptions = StartOptions()) async {
        await controller.start(options)
    }

    /// Starts the container if needed and returns once its ports answer.
    public func startAndWaitForPorts(_ options: StartOptions = StartOptions()) async throws(BerthError) {
        try await controller.startAndWaitForPorts(options)
    }

    /// SIGTERM, the grace period, then SIGKILL; returns once stopped.
    public func stop() async {
        await controller.stop()
    }

    /// SIGKILL at once; returns once stopped.
    public func destroy() async {
        await controller.destroy()
    }

    /// `running`, `healthy`, `stopping`, `stopped` or `stopped_with_code`.
    public func getState() async -> ContainerStatus {
        await controller.status
    }

    /// Counts as activity: the idle timer starts again.
    public func renewActivityTimeout() async {
        await controller.renewActivityTimeout()
    }
}

extension HTTPField.Name {
    /// The header ``switchPort(_:_:)`` sets and `fetch` reads.
    public static let containerTargetPort = HTTPField.Name("cf-container-target-port")!
}

extension Response {
    /// The response Cloudflare's containerFetch gives for a failure: the message as text, the
    /// status from the one table (``BerthCore/BerthError/Code/httpStatus``).
    public static func error(_ error: BerthError) -> Response {
        var response = Response.text(error.message + "\n", status: HTTPResponse.Status(code: error.code.httpStatus, reasonPhrase: error.code.httpReason))
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}
