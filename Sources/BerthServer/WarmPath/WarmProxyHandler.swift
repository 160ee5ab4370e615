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
        if event is ChannelShouldQuiesceEvent, case .warm = mode {
            closeAfterExchange = true
            return
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
            case .passthrough, .idle:
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
        if case .warm(let exchange) = mode {
            mode = .idle
            exchange.clientClosed()
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if case .warm(let exchange) = mode {
            mode = .idle
            exchange.clientClosed()
        }
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
            case .idle:
                // The rest of a request whose exchange already ended (its connection failed).
                break
            }
        }
    }

    // MARK: Outbound (Hummingbird's responses)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
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
        if case .warm(let exchange) = mode { return exchange.canSendUpstream }
        return true
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
