import BerthCore
import BerthRuntime
import NIOCore
import NIOHTTP1

/// One request forwarded on the warm path: the client's request to a container over a pooled
/// connection on the client's event loop, and the container's response back, both streamed
/// part by part with backpressure (a slow reader stops reading the container, a slow
/// container stops reading the client). Everything here runs on that one event loop.
///
/// The shell around a ``WarmExchangeStateMachine``: it turns what the two connections do into
/// the machine's events and performs the actions the machine returns.
final class WarmExchange {
    typealias Action = WarmExchangeStateMachine.Action

    private unowned let handler: WarmProxyHandler
    private let context: ChannelHandlerContext
    private let pool: UpstreamPool
    private let lease: ContainerLease
    private let clientHead: HTTPRequestHead
    private let upstreamHead: HTTPRequestHead
    private let started = ContinuousClock.now
    private var machine: WarmExchangeStateMachine
    /// The container's connection while the exchange uses it.
    private var upstream: UpstreamConnection?
    /// Request parts read before the container's connection was ready.
    private var pending: [HTTPClientRequestPart] = []
    /// `response_timeout`: counts the container's silence from the request's head going out,
    /// while the exchange waits on it (``WarmExchangeStateMachine/waitsOnContainer``). The
    /// timer is the container connection's (``UpstreamHandler/armResponseTimer(at:)``).
    private var lastProgress = NIODeadline.uptimeNanoseconds(0)

    /// `body`: how the request's body is delimited, as ``RequestFraming`` found it.
    init(
        handler: WarmProxyHandler, context: ChannelHandlerContext, pool: UpstreamPool, request: HTTPRequestHead, body: RequestFraming.Body,
        lease: ContainerLease
    ) {
        self.handler = handler
        self.context = context
        self.pool = pool
        self.lease = lease
        self.clientHead = request
        self.upstreamHead = Self.forwardedHead(request, body: body, client: context.channel.remoteAddress?.ipAddress, scheme: handler.scheme)
        self.machine = WarmExchangeStateMachine(
            clientKeepAlive: request.isKeepAlive, retryable: Self.isRetryable(request.method), clientWritable: context.channel.isWritable
        )
    }

    /// Whether the request can be sent again when a pooled connection fails before answering.
    static func isRetryable(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS: true
        default: false
        }
    }

    // MARK: Request

    func start() {
        pool.forwarded += 1
        perform(machine.requestHead(expectsContinue: Self.expectsContinue(clientHead)))
    }

    /// A part of the client's request body.
    func clientPart(_ part: HTTPServerRequestPart) {
        let forwarded: HTTPClientRequestPart
        let action: Action
        switch part {
        case .head: return
        case .body(let buffer):
            forwarded = .body(.byteBuffer(buffer))
            action = machine.requestBody()
        case .end:
            // Trailers are not forwarded (nor are they on the Worker's path).
            forwarded = .end(nil)
            action = machine.requestEnd()
        }
        switch action {
        case .bufferRequestPart:
            pending.append(forwarded)
        case .forwardRequestPart:
            progress()
            if case .end = forwarded {
                upstream?.channel.writeAndFlush(NIOAny(forwarded), promise: nil)
            } else {
                upstream?.channel.write(NIOAny(forwarded), promise: nil)
            }
        case .forwardRequestEnd(let finish):
            progress()
            upstream?.channel.writeAndFlush(NIOAny(forwarded), promise: nil)
            self.finish(finish)
        default:
            perform(action)
        }
    }

    /// The parser found the rest of the client's request malformed (`error` says how).
    /// False if the request had already ended: what was malformed came after it.
    func clientMalformed(_ error: BerthError) -> Bool {
        let action = machine.requestMalformed()
        switch action {
        case .none:
            return false
        case .refuseRequest:
            pending = []
            closeUpstream()
            sendError(error, closeClient: true)
            lease.releaseNow()
            handler.exchangeFinished(self, closeConnection: true, context: context)
        default:
            perform(action)
        }
        return true
    }

    func flushUpstream() {
        upstream?.channel.flush()
    }

    /// Whether the client may be read: what it sends has somewhere to go.
    var canSendUpstream: Bool { machine.canReadClient }

    func upstreamWritabilityChanged(_ writable: Bool) {
        progress()
        perform(machine.upstreamWritabilityChanged(writable))
    }

    func clientWritabilityChanged(_ writable: Bool) {
        perform(machine.clientWritabilityChanged(writable))
    }

    // MARK: The container's connection

    private func connect() {
        // Pooled connections are the container's for sure; a new one only while the runtime
        // trusts its endpoints (``EngineSight``): else 503 with Retry-After, never a guess.
        guard lease.mayConnect else { return upstreamFailed(EngineSight.refusal) }
        pool.connect(lease.endpoint).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection): self.connected(connection, reused: false)
            case .failure(let error): self.upstreamFailed(error)
            }
        }
    }

    private func connected(_ connection: UpstreamConnection, reused: Bool) {
        guard case .sendRequest(let upstreamReads) = machine.upstreamConnected(reused: reused, writable: connection.channel.isWritable) else {
            connection.channel.close(promise: nil)
            return
        }
        upstream = connection
        connection.handler.exchange = self
        let channel = connection.channel
        channel.write(NIOAny(HTTPClientRequestPart.head(upstreamHead)), promise: nil)
        for part in pending { channel.write(NIOAny(part), promise: nil) }
        pending = []
        // Within the client's read the flush waits for its end (``flushUpstream()``): should
        // the parser reject what follows the head in the same bytes, none of it goes out.
        if !handler.inReadCycle { channel.flush() }
        // A pooled connection always comes back with its reads on.
        if !upstreamReads { setUpstreamReading(false) }
        startResponseTimer()
        handler.resumeReading(context: context)
    }

    // MARK: response_timeout

    private func startResponseTimer() {
        progress()
        upstream?.handler.armResponseTimer(at: lastProgress + pool.responseTimeout)
    }

    /// The container did something (or the exchange stopped waiting on it): its silence
    /// counts from now. A clock read, no rescheduling.
    private func progress() {
        lastProgress = context.eventLoop.now
    }

    /// From the container connection's timer: when to look again, or nil when the exchange
    /// gave up on a silent container (or no longer waits on one).
    func responseTimerFired() -> NIODeadline? {
        guard upstream != nil else { return nil }
        let now = context.eventLoop.now
        if !machine.waitsOnContainer { lastProgress = now }
        let due = lastProgress + pool.responseTimeout
        if due > now { return due }
        containerTimedOut()
        return nil
    }

    private func containerTimedOut() {
        let action = machine.containerTimedOut()
        closeUpstream()
        switch action {
        case .sendFailure(let closeClient, let finish):
            answerFailure(ForwardingPolicy.silent(after: Duration(pool.responseTimeout)), closeClient: closeClient, finish: finish)
        default:
            perform(action)
        }
    }

    /// The container's connection failed or closed before the exchange ended, or could not
    /// be opened.
    func upstreamFailed(_ error: any Error) {
        upstream = nil
        switch machine.upstreamFailed() {
        case .sendFailure(let closeClient, let finish):
            answerFailure(ForwardingPolicy.failure(error), closeClient: closeClient, finish: finish)
        case let action:
            perform(action)
        }
    }

    /// Answers Berth's error instead of the container's response and releases the lease.
    private func answerFailure(_ error: BerthError, closeClient: Bool, finish: WarmExchangeStateMachine.Finish?) {
        pending = []
        sendError(error, closeClient: closeClient)
        lease.releaseNow()
        if let finish {
            self.finish(finish)
        } else {
            // The rest of the request is read and dropped.
            handler.resumeReading(context: context)
        }
    }

    private func setUpstreamReading(_ on: Bool) {
        guard let channel = upstream?.channel else { return }
        try? channel.syncOptions?.setOption(.autoRead, value: on)
    }

    // MARK: Response

    func upstreamRead(_ part: HTTPClientResponsePart) {
        progress()
        switch part {
        case .head(let head):
            // Interim responses (100 Continue…) are not passed on; the final one follows.
            if ForwardingPolicy.isInterim(status: Int(head.status.code)) { return }
            var (headers, endsWithClose) = Self.clientResponseHeaders(head, for: clientHead)
            let action = machine.responseHead(upstreamKeepAlive: head.isKeepAlive, bodyEndsWithClose: endsWithClose)
            guard case .sendResponseHead(let closeClient) = action else { return }
            Self.setConnection(&headers, version: clientHead.version, closeClient: closeClient)
            let response = HTTPResponseHead(version: clientHead.version, status: head.status, headers: headers)
            context.write(NIOAny(HTTPServerResponsePart.head(response)), promise: nil)
            ForwardingPolicy.report(lease.controller, status: Int(head.status.code), since: started)
        case .body(let buffer):
            guard case .forwardResponseBody = machine.responseBody() else { return }
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            guard case .sendResponseEnd(let finish) = machine.responseEnd() else { return }
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(trailers)), promise: nil)
            lease.releaseNow()
            if let finish { self.finish(finish) }
        }
    }

    func upstreamReadComplete() {
        context.flush()
    }

    // MARK: The client

    /// The client went away: the container's connection closes (its response has no reader).
    func clientClosed() {
        perform(machine.clientClosed())
    }

    // MARK: Actions

    /// Performs the actions that carry no data of the event that returned them.
    private func perform(_ action: Action) {
        switch action {
        case .none:
            break
        case .connect(let sendContinue):
            // As nginx does: the go-ahead comes from here, at once, and the container gets the
            // request without `Expect` (interim responses from it are not passed on).
            if sendContinue {
                let head = HTTPResponseHead(version: clientHead.version, status: .continue)
                context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            }
            if let connection = pool.take(lease.endpoint) {
                connected(connection, reused: true)
            } else {
                connect()
            }
        case .reconnect(let replayEnd):
            // Nothing but the head and perhaps the end went out; both go again.
            pending = replayEnd ? [.end(nil)] : []
            connect()
        case .finish(let finish):
            self.finish(finish)
        case .abortClient:
            lease.releaseNow()
            closeUpstream()
            handler.exchangeAborted(self, context: context)
        case .abandon:
            lease.releaseNow()
            closeUpstream()
        case .setUpstreamReads(let on):
            progress()
            setUpstreamReading(on)
        case .resumeClientReads:
            handler.resumeReading(context: context)
        case .sendRequest, .closeUpstream, .bufferRequestPart, .forwardRequestPart, .forwardRequestEnd, .sendResponseHead,
             .forwardResponseBody, .sendResponseEnd, .sendFailure, .refuseRequest:
            assertionFailure("\(action) is performed by the event that returns it")
        }
    }

    private func finish(_ finish: WarmExchangeStateMachine.Finish) {
        if let upstream {
            switch finish.upstream {
            case .giveBack(let resumeReads):
                if resumeReads { setUpstreamReading(true) }
                self.upstream = nil
                pool.giveBack(upstream)
            case .close, .none:
                closeUpstream()
            }
        }
        handler.exchangeFinished(self, closeConnection: finish.closeClient, context: context)
    }

    private func closeUpstream() {
        guard let upstream else { return }
        self.upstream = nil
        upstream.handler.exchange = nil
        upstream.channel.close(promise: nil)
    }

    private func sendError(_ error: BerthError, closeClient: Bool) {
        ErrorResponse.write(error, version: clientHead.version, closeClient: closeClient, context: context)
        ForwardingPolicy.report(lease.controller, status: error.code.httpStatus, since: started, failure: error.code)
    }
}
