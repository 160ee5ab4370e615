import BerthCore
import BerthRuntime
import NIOCore
import NIOHTTP1

/// The gateway's warm path. Sits right after the HTTP parser of each client connection: a
/// request whose object's container is healthy (``WarmRouting`` hands back a lease) is
/// forwarded by a ``WarmExchange`` over a pooled keep-alive connection on this same event loop,
/// and never reaches Hummingbird, the Worker or the cooperative thread pool. Every other
/// request (no route, a cold or starting object, a Swift Worker) passes on unchanged.
///
/// Responses leave in request order: while an exchange (warm, or one Hummingbird answers)
/// is in flight, the parts of a pipelined next request wait here, and reading stops.
///
/// Every head meets ``RequestFraming`` first, on both paths: a request with ambiguous or
/// undecodable framing, like bytes the parser rejects, is answered here with Berth's error
/// (after the responses before it) and its connection closed; nothing of it goes on.
final class WarmProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Mode {
        case idle
        /// Hummingbird has the request; done when both its end and the response's end passed.
        case passthrough(requestDone: Bool, responseDone: Bool)
        case warm(WarmExchange)
        /// A WebSocket handshake on the warm path, waiting for the container's answer.
        case upgrading(WarmUpgrade)
        /// The connection carries a WebSocket now: its handlers sit in front of this one.
        case switched
    }

    let routing: WarmRouting
    let pool: UpstreamPool
    private var mode = Mode.idle
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var readPending = false
    /// Inside `channelRead`: parts passed on now reach Hummingbird with the read cycle's
    /// `channelReadComplete`; outside it (a pipelined request let through when an exchange
    /// ends) the handler completes the cycle itself, or they would wait in its buffer.
    private(set) var inReadCycle = false
    private var passedOn = false
    /// The connection closes once the warm exchange in flight has sent its whole response:
    /// the server is shutting down gracefully, or the client sent what is not HTTP.
    private var closeAfterExchange = false
    /// A request refused for its framing, or bytes the parser rejected: answered once the
    /// exchange in flight ends (`pending`), or already (`sent`). Nothing more is read.
    private var refusal = Refusal.none
    /// Hummingbird began the response to the request it has.
    private var passthroughResponded = false
    /// The request Hummingbird has is a WebSocket handshake: after it the parser reads no
    /// more HTTP, so its response is either a 101 that switches the connection (to
    /// ``pendingSocket``, which the gateway sets from the Worker's response) or the last one.
    private var passthroughUpgrade = false
    private var pendingSocket: GatewaySocket?
    private var held101: HTTPResponseHead?

    enum Refusal {
        case none
        case pending(BerthError, HTTPVersion)
        case sent
    }

    /// `https` on a TLS listener: the container's `X-Forwarded-Proto`.
    let scheme: String

    init(routing: @escaping WarmRouting, pool: UpstreamPool, scheme: String = "http") {
        self.routing = routing
        self.pool = pool
        self.scheme = scheme
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .none = refusal else { return }
        queued.append(unwrapInboundIn(data))
        inReadCycle = true
        drain(context: context)
        inReadCycle = false
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .warm(let exchange) = mode { exchange.flushUpstream() }
        passedOn = false
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .warm(let exchange) = mode { exchange.clientWritabilityChanged(context.channel.isWritable) }
        context.fireChannelWritabilityChanged()
    }

    /// A graceful shutdown asks idle connections to close. Hummingbird, behind this handler,
    /// would take a connection busy with a warm exchange for an idle one and cut it off: the
    /// request is answered first, then the connection closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            switch mode {
            case .warm, .upgrading:
                closeAfterExchange = true
                return
            default:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The parser failed. In a warm request's body: the exchange breaks off (the container's
    /// connection closes) and the client gets 400. In a body Hummingbird reads: its Worker
    /// sees the body fail. Anywhere else (between requests): Berth's 400 once the responses
    /// before it are sent, then the connection closes (the parser reads nothing more).
    /// Other errors, and a head too large: after a warm exchange the connection closes
    /// (Hummingbird would answer at once, in the middle of the warm response); otherwise
    /// Hummingbird answers as usual.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .none = refusal else { return }
        switch mode {
        case .switched:
            return context.fireErrorCaught(error)
        case .upgrading:
            // Nothing more is parsed after a handshake: an error is the connection's.
            return context.close(promise: nil)
        default:
            break
        }
        if let parserError = error as? HTTPParserError, let refused = BerthError.malformedRequest(parserError) {
            switch mode {
            case .warm(let exchange):
                refusal = .sent
                if exchange.clientMalformed(refused) { return }
            case .passthrough(requestDone: false, _):
                // The Worker's body fails, and with it the container's connection; the client
                // gets the refusal unless the Worker's response has begun.
                context.fireErrorCaught(error)
                if !passthroughResponded { answer(refused, version: .http1_1, context: context) }
                return
            case .passthrough, .idle, .upgrading, .switched:
                break
            }
            refuse(refused, version: .http1_1, context: context)
            return
        }
        if case .warm = mode {
            closeAfterExchange = true
            queued.removeAll()
            return
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientGone()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        clientGone()
    }

    private func clientGone() {
        switch mode {
        case .warm(let exchange):
            mode = .idle
            exchange.clientClosed()
        case .upgrading(let exchange):
            mode = .idle
            exchange.clientClosed()
        default:
            break
        }
        pendingSocket?.abandon()
        pendingSocket = nil
    }

    /// Answers a refusal once no exchange is in flight: Berth's error, then the connection
    /// closes when it is written.
    private func refuse(_ error: BerthError, version: HTTPVersion, context: ChannelHandlerContext) {
        refusal = .pending(error, version)
        queued.removeAll()
        if isIdle { answer(error, version: version, context: context) }
    }

    private func answer(_ error: BerthError, version: HTTPVersion, context: ChannelHandlerContext) {
        refusal = .sent
        queued.removeAll()
        ErrorResponse.write(error, version: version, closeClient: true, context: context).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// Handles queued parts in order, up to the head of a request that must wait for the
    /// exchange in flight.
    private func drain(context: ChannelHandlerContext) {
        if case .pending(let error, let version) = refusal {
            refuse(error, version: version, context: context)
            return
        }
        while let part = queued.first {
            if case .head = part, !isIdle { break }
            queued.removeFirst()
            handle(part, context: context)
        }
        if passedOn && !inReadCycle {
            passedOn = false
            context.fireChannelReadComplete()
        }
        resumeReading(context: context)
    }

    private var isIdle: Bool {
        if case .idle = mode { return true }
        return false
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            let body: RequestFraming.Body
            switch RequestFraming.check(head) {
            case .accept(let framing): body = framing
            case .refuse(let error): return refuse(error, version: head.version, context: context)
            }
            let upgrade = ForwardingPolicy.upgrade(in: head.headers)
            passthroughUpgrade = upgrade != .none
            if passthroughUpgrade {
                let version = (head.version.major, head.version.minor)
                if let refusal = ForwardingPolicy.upgradeRefusal(upgrade, method: head.method.rawValue, version: version, hasBody: body != .none) {
                    return refuse(refusal, version: head.version, context: context)
                }
                if let lease = routing(head) {
                    let exchange = WarmUpgrade(
                        handler: self, context: context, lease: lease, request: head, timeout: pool.responseTimeout, opener: pool.upgradeOpener
                    )
                    mode = .upgrading(exchange)
                    passthroughUpgrade = false
                    pool.forwarded += 1
                    exchange.start()
                    return
                }
            }
            if let lease = routing(head) {
                let exchange = WarmExchange(handler: self, context: context, pool: pool, request: head, body: body, lease: lease)
                mode = .warm(exchange)
                exchange.start()
            } else {
                mode = .passthrough(requestDone: false, responseDone: false)
                passthroughResponded = false
                passedOn = true
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .body, .end:
            switch mode {
            case .passthrough(_, let responseDone):
                passedOn = true
                context.fireChannelRead(wrapInboundOut(part))
                if case .end = part { passthroughProgress(requestDone: true, responseDone: responseDone, context: context) }
            case .warm(let exchange):
                exchange.clientPart(part)
            case .upgrading, .switched:
                // The end of a handshake (it has no body).
                break
            case .idle:
                // The rest of a request whose exchange already ended (its connection failed).
                break
            }
        }
    }

    // MARK: Outbound (Hummingbird's responses)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        if passthroughUpgrade, case .passthrough = mode, case .none = refusal {
            return writeUpgradeResponse(part, promise: promise, context: context)
        }
        if case .passthrough = mode {
            // After Berth's refusal took the place of the Worker's response, the Worker's
            // comes too late.
            if case .sent = refusal {
                promise?.fail(ChannelError.ioOnClosedChannel)
                return
            }
            if case .head(let head) = part, head.status.code >= 200 { passthroughResponded = true }
        }
        let isEnd: Bool = if case .end = part { true } else { false }
        context.write(data, promise: promise)
        if isEnd, case .passthrough(let requestDone, _) = mode {
            passthroughProgress(requestDone: requestDone, responseDone: true, context: context)
        }
    }

    func read(context: ChannelHandlerContext) {
        if case .switched = mode { return context.read() }
        guard queued.isEmpty, canRead, case .none = refusal else {
            readPending = true
            return
        }
        context.read()
    }

    private func passthroughProgress(requestDone: Bool, responseDone: Bool, context: ChannelHandlerContext) {
        if requestDone && responseDone {
            mode = .idle
            drain(context: context)
        } else {
            mode = .passthrough(requestDone: requestDone, responseDone: responseDone)
        }
    }

    /// Reading the client stops while a pipelined request waits, and while the container's
    /// connection cannot take more of the request body.
    private var canRead: Bool {
        switch mode {
        case .warm(let exchange): return exchange.canSendUpstream
        // What a client sends after its handshake waits in the socket until the 101 is out.
        case .upgrading: return false
        case .passthrough(true, _) where passthroughUpgrade: return false
        default: return true
        }
    }

    // MARK: From the exchange

    /// The container's connection can take more: read the client again if we held back.
    func resumeReading(context: ChannelHandlerContext) {
        guard readPending, queued.isEmpty, canRead, case .none = refusal else { return }
        readPending = false
        context.read()
    }

    /// The warm exchange sent its whole response and consumed the whole request.
    func exchangeFinished(_ exchange: WarmExchange, closeConnection: Bool, context: ChannelHandlerContext) {
        guard case .warm(let current) = mode, current === exchange else { return }
        mode = .idle
        if closeConnection || closeAfterExchange {
            queued.removeAll()
            context.close(promise: nil)
            return
        }
        drain(context: context)
    }

    /// The exchange broke after the response started: the client connection cannot be
    /// reused (the response is cut short), so it closes.
    func exchangeAborted(_ exchange: WarmExchange, context: ChannelHandlerContext) {
        guard case .warm(let current) = mode, current === exchange else { return }
        mode = .idle
        queued.removeAll()
        context.close(promise: nil)
    }
}

// MARK: WebSocket handshakes

extension WarmProxyHandler {
    /// The warm handshake's container answered 101: the connection switches to `socket`.
    func upgradeSwitched(_ exchange: WarmUpgrade, socket: GatewaySocket, head: HTTPResponseHead, context: ChannelHandlerContext) {
        guard case .upgrading(let current) = mode, current === exchange else { return socket.abandon() }
        switchConnection(to: socket, head: head, context: context)
    }

    /// The warm handshake ended without a switch; its answer closes the connection.
    func upgradeEnded(_ exchange: WarmUpgrade) {
        guard case .upgrading(let current) = mode, current === exchange else { return }
        mode = .idle
        refusal = .sent
        queued.removeAll()
    }

    /// The Worker answered the handshake Hummingbird has with `socket`: its 101 switches the
    /// connection. False when this connection has no handshake waiting for its answer.
    func expectSocket(_ socket: GatewaySocket) -> Bool {
        guard passthroughUpgrade, case .passthrough = mode, !passthroughResponded, pendingSocket == nil, case .none = refusal else { return false }
        pendingSocket = socket
        return true
    }

    private func switchConnection(to socket: GatewaySocket, head: HTTPResponseHead, context: ChannelHandlerContext) {
        mode = .switched
        queued.removeAll()
        WebSocketSwitch.perform(socket, head: head, context: context)
        if closeAfterExchange {
            // The server began shutting down during the handshake.
            if case .relay(let relay) = socket { relay.goAway(code: 1001, reason: "the server is shutting down") }
        }
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Hummingbird's response to a handshake: a 101 (held until its end, then the switch), or
    /// any other, after which the connection closes.
    func writeUpgradeResponse(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        switch part {
        case .head(let head) where head.status == .switchingProtocols:
            passthroughResponded = true
            guard pendingSocket != nil else {
                promise?.fail(ChannelError.ioOnClosedChannel)
                answer(BerthError(.internal, "the Worker answered 101 Switching Protocols without a WebSocket; return Response(webSocket:)"), version: head.version, context: context)
                return
            }
            held101 = head
            promise?.succeed(())
        case .head(var head):
            passthroughResponded = true
            head.headers.replaceOrAdd(name: "connection", value: "close")
            context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: promise)
        case .body where held101 != nil:
            promise?.succeed(())
        case .body:
            context.write(NIOAny(part), promise: promise)
        case .end:
            guard var head = held101, let socket = pendingSocket else {
                refusal = .sent
                context.writeAndFlush(NIOAny(part)).assumeIsolated().whenComplete { result in
                    promise?.completeWith(result)
                    context.close(promise: nil)
                }
                return
            }
            held101 = nil
            pendingSocket = nil
            passthroughUpgrade = false
            for name in ["content-length", "transfer-encoding", "connection", "upgrade"] { head.headers.remove(name: name) }
            for header in ForwardingPolicy.webSocketUpgradeHeaders { head.headers.add(name: header.name, value: header.value) }
            switchConnection(to: socket, head: HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: head.headers), context: context)
            promise?.succeed(())
        }
    }
}
