import Berth
import BerthCore
import BerthRuntime
import BerthStorage
import Foundation

/// A class's objects for a Worker in the server's own process (the zero-code routes, an
/// embedded Worker): its stubs drive the controllers directly.
package struct LocalClassLink: ObjectClassLink {
    let containerClass: ContainerClass
    let proxy: ContainerProxy
    /// The schedule callbacks of the class's Swift type, when it has one here.
    let callbacks: Set<String>?

    package init(containerClass: ContainerClass, proxy: ContainerProxy, callbacks: Set<String>? = nil) {
        self.containerClass = containerClass
        self.proxy = proxy
        self.callbacks = callbacks
    }

    package var className: String { containerClass.className }
    package func idFromName(_ name: String) -> ObjectID { containerClass.idFromName(name) }
    package func object(_ id: ObjectID) -> any ObjectLink { LocalObjectLink(controller: containerClass.get(id), proxy: proxy, scheduleCallbacks: callbacks) }
    package func object(named name: String) -> any ObjectLink {
        LocalObjectLink(controller: containerClass.getByName(name), proxy: proxy, scheduleCallbacks: callbacks)
    }
}

/// One object for a Worker in the server's own process.
struct LocalObjectLink: ObjectLink {
    let controller: ContainerController
    let proxy: ContainerProxy
    var scheduleCallbacks: Set<String>? = nil

    var id: ObjectID { controller.objectID }

    func storage() throws(BerthError) -> ObjectStorage { try controller.owner.storage(of: id) }
    func alarm(_ change: AlarmChange) async throws(BerthError) -> Date? { try await controller.owner.alarm(change, of: id) }

    func fetch(_ request: Request, port: Int?) async -> Response {
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

    func start(_ options: StartOptions) async { await controller.start(options) }
    func startAndWaitForPorts(_ options: StartOptions) async throws(BerthError) { try await controller.startAndWaitForPorts(options) }
    func stop() async { await controller.stop() }
    func destroy() async { await controller.destroy() }
    func state() async -> ContainerStatus { await controller.status }
    func renewActivityTimeout() async { await controller.renewActivityTimeout() }
}

/// One object for its own hooks (`context.container`), found each time it is used: the
/// hooks are made while the object's controller is, so they cannot hold it.
struct LocalObjectByID: ObjectLink {
    let containerClass: ContainerClass
    let id: ObjectID
    let proxy: ContainerProxy
    var scheduleCallbacks: Set<String>? = nil

    func storage() throws(BerthError) -> ObjectStorage { try containerClass.storage(of: id) }
    func alarm(_ change: AlarmChange) async throws(BerthError) -> Date? { try await containerClass.alarm(change, of: id) }

    private var object: LocalObjectLink { LocalObjectLink(controller: containerClass.get(id), proxy: proxy) }

    func fetch(_ request: Request, port: Int?) async -> Response { await object.fetch(request, port: port) }
    func start(_ options: StartOptions) async { await object.start(options) }
    func startAndWaitForPorts(_ options: StartOptions) async throws(BerthError) { try await object.startAndWaitForPorts(options) }
    func stop() async { await object.stop() }
    func destroy() async { await object.destroy() }
    func state() async -> ContainerStatus { await object.state() }
    func renewActivityTimeout() async { await object.renewActivityTimeout() }
}

extension ContainerClass {
    /// Reads or changes when the object's alarm fires.
    func alarm(_ change: AlarmChange, of id: ObjectID) async throws(BerthError) -> Date? {
        switch change {
        case .get: try await alarm(of: id, set: nil)
        case .set(let date): try await alarm(of: id, set: .some(date))
        case .delete: try await alarm(of: id, set: .some(nil))
        }
    }
}

extension ContainerSocket: ContainerWebSocket {
    package func acceptMessages() -> (any WebSocketPeer)? { accept() }
}

extension ContainerProperties {
    /// Applies the class properties to the settings of their container class.
    func apply(to settings: inout ContainerSettings) {
        if let defaultPort { settings.defaultPort = defaultPort }
        settings.requiredPorts = requiredPorts
        settings.sleepAfter = sleepAfter
        settings.envVars = settings.envVars.merging(envVars) { $1 }
        if let entrypoint { settings.entrypoint = entrypoint }
        settings.enableInternet = enableInternet
        settings.pingEndpoint = pingEndpoint
        settings.labels = settings.labels.merging(labels) { $1 }
        settings.webSocketActivity = webSocketActivity
    }
}
