import BerthCore
import BerthRuntime
import NIOCore
import NIOHTTP1

/// A WebSocket handshake on the warm path: the object's container is healthy, so the
/// handshake goes to it from the client connection's event loop, on a connection of its own,
/// and on its 101 both connections switch to a ``FrameRelay``. Any other answer is passed on
/// whole and the client's connection closes (its parser reads no HTTP after a handshake).
final class WarmUpgrade {
    private unowned let handler: WarmProxyHandler
    private let context: ChannelHandlerContext
    private let lease: ContainerLease
    private let request: HTTPRequestHead
    private let timeout: TimeAmount
    private let opener: ContainerUpgrade.Opener?
    private let started = ContinuousClock.now
    private var clientGone = false

    init(
        handler: WarmProxyHandler, context: ChannelHandlerContext, lease: ContainerLease, request: HTTPRequestHead, timeout: TimeAmount,
        opener: ContainerUpgrade.Opener? = nil
    ) {
        self.opener = opener
        self.handler = handler
        self.context = context
        self.lease = lease
        self.request = request
        self.timeout = timeout
    }

    func start() {
        let sockets = lease.controller.sockets
        let place: Int
        do {
            place = try sockets.reserve(
                instanceID: lease.instanceID, limits: lease.webSocketLimits, object: lease.controller.objectID.name ?? lease.controller.objectID.hex
            )
        } catch {
            return fail(error)
        }
        guard lease.mayConnect else {
            sockets.close(place)
            return fail(EngineSight.refusal)
        }
        let head = ForwardingPolicy.webSocketHead(request, client: context.channel.remoteAddress?.ipAddress, scheme: handler.scheme)
        ContainerUpgrade.open(lease.endpoint, head: head, on: context.eventLoop, timeout: timeout, opener: opener).assumeIsolated().whenComplete { result in
            switch result {
            case .success(.switched(let upstream, let response)):
                guard !self.clientGone else {
                    upstream.close()
                    sockets.close(place)
                    self.lease.releaseNow()
                    return
                }
                let relay = FrameRelay(upstream: upstream, lease: self.lease, registration: (sockets, place), settings: self.lease.webSocketLimits)
                ForwardingPolicy.report(self.lease.controller, status: 101, since: self.started)
                self.handler.upgradeSwitched(self, socket: .relay(relay), head: WebSocketSwitch.clientHead(response), context: self.context)
            case .success(.answered(let response, let body)):
                sockets.close(place)
                self.answered(response, body: body)
            case .failure(let error):
                sockets.close(place)
                self.fail(ForwardingPolicy.failure(error))
            }
        }
    }

    /// The container refused the handshake: its answer, then the connection closes.
    private func answered(_ response: HTTPResponseHead, body: ByteBuffer) {
        lease.releaseNow()
        ForwardingPolicy.report(lease.controller, status: Int(response.status.code), since: started)
        guard !clientGone else { return }
        // Its body is whole here: Berth frames it with its length, and the connection closes.
        var headers = ForwardingPolicy.clientResponseHeaders(response.headers)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        if body.readableBytes > 0 { context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil) }
        let context = self.context
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        handler.upgradeEnded(self)
    }

    private func fail(_ error: BerthError) {
        lease.releaseNow()
        ForwardingPolicy.report(lease.controller, status: error.code.httpStatus, since: started, failure: error.code)
        guard !clientGone else { return }
        let context = self.context
        ErrorResponse.write(error, version: request.version, closeClient: true, context: context).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        handler.upgradeEnded(self)
    }

    /// The client went away during the handshake: whatever the container answers is dropped.
    func clientClosed() {
        clientGone = true
    }
}
