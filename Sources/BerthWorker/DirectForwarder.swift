import Berth
import BerthCore
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A container port a standing lease points at.
struct DirectTarget: Sendable, Hashable {
    var host: String
    var port: Int
}

/// A direct exchange failed before anything of the request reached the container (the
/// connection was refused, or a kept-alive one had closed): the request can still go the
/// ordinary way, through the server.
struct NotSent: Error {
    let cause: any Error
}

/// Sends a Worker process's requests straight to containers under standing leases, over
/// kept-alive connections on one event loop, by the rules the server's own proxies follow
/// (``ForwardingPolicy``: the container's `Host`, the forwarded headers, hop-by-hop headers
/// dropped, Berth's own framing) and `berth.limits.response_timeout` (before the head, and
/// between reads of the body).
final class DirectForwarder: Sendable {
    let loop: any EventLoop
    /// Tasks on ``loop``: the Worker process's, and those writing request bodies.
    let executor: LoopExecutor
    let responseTimeout: Duration
    /// Idle connections kept per container port.
    let maxIdle: Int
    private let idle = Mutex<[DirectTarget: [DirectConnection]]>([:])
    /// Methods sent again on a new connection when a kept-alive one turns out closed.
    static let retried: Set<HTTPRequest.Method> = [.get, .head, .options]

    init(loop: any EventLoop, responseTimeout: Duration, maxIdle: Int = 64) {
        self.loop = loop
        self.executor = LoopExecutor(loop)
        self.responseTimeout = responseTimeout
        self.maxIdle = maxIdle
    }

    /// Sends `request` to `target` and returns the container's response; its body streams
    /// and `finished` runs once it has been read, failed, or been dropped. Throws
    /// ``NotSent`` when nothing was sent, a ``BerthError`` (502, 504) otherwise.
    func forward(_ request: Request, to target: DirectTarget, finished: @escaping @Sendable () -> Void) async throws -> Response {
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        let framing: RequestFraming.Body = request.body.isEmpty ? .none : (declared.map { $0 > 0 ? .length($0) : .chunked } ?? .chunked)
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.count + 4)
        ForwardingPolicy.rewriteRequestHeaders(
            request.headers.lazy.map { (name: $0.name.rawName, value: $0.value) }, authority: request.head.authority,
            client: request.clientAddress, scheme: request.head.scheme ?? "http", framing: .gateway(framing, method: request.method.rawValue)
        ) { headers.add(name: $0, value: $1) }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method.rawValue), uri: request.path, headers: headers)
        let body: Body? = request.body.isEmpty ? nil : request.body

        var (connection, reused) = try await connection(to: target)
        var answer: (head: HTTPResponseHead, body: DirectConnection.ResponseBody)
        do {
            answer = try await connection.exchange(head, body: body, framing: framing)
        } catch is DirectConnection.Stale where reused && body == nil && Self.retried.contains(request.method) {
            // A kept-alive connection the container had closed: once more, on a new one.
            (connection, reused) = try await self.connection(to: target, fresh: true)
            answer = try await connection.exchange(head, body: body, framing: framing)
        } catch let error as DirectConnection.Stale {
            throw ForwardingPolicy.unreachable(ForwardingPolicy.closedText, cause: error)
        }
        var response = HTTPResponse(status: .init(code: Int(answer.head.status.code), reasonPhrase: answer.head.status.reasonPhrase))
        let listed = HopByHop.connectionListed(in: answer.head.headers)
        for (name, value) in answer.head.headers where ForwardingPolicy.responseHeader(name, listed: listed) != .drop {
            if let fieldName = HTTPField.Name(name) { response.headerFields.append(HTTPField(name: fieldName, value: value)) }
        }
        return Response(head: response, body: Body(stream: DirectBody(base: answer.body, end: ExchangeEnd(finished))))
    }

    /// An idle connection to `target` (`reused`), or a new one.
    private func connection(to target: DirectTarget, fresh: Bool = false) async throws -> (DirectConnection, reused: Bool) {
        if !fresh {
            while let kept = idle.withLock({ $0[target]?.popLast() }) {
                if kept.channel.isActive { return (kept, true) }
            }
        }
        let timeout = TimeAmount(responseTimeout)
        do {
            let channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(5))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(DirectClientHandler(responseTimeout: timeout))
                    }
                }
                .connect(host: target.host, port: target.port)
                .get()
            let handler = try await channel.pipeline.handler(type: DirectClientHandler.self).get()
            let connection = DirectConnection(channel: channel, handler: handler, forwarder: self, target: target)
            channel.closeFuture.whenComplete { [weak self] _ in self?.forget(connection) }
            return (connection, false)
        } catch {
            throw NotSent(cause: error)
        }
    }

    /// An exchange ended with the connection fit for another.
    fileprivate func checkIn(_ connection: DirectConnection) {
        let kept = idle.withLock { idle -> Bool in
            guard idle[connection.target, default: []].count < maxIdle else { return false }
            idle[connection.target, default: []].append(connection)
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }

    private func forget(_ connection: DirectConnection) {
        idle.withLock { idle in idle[connection.target]?.removeAll { $0 === connection } }
    }

    /// Closes every idle connection.
    func closeAll() {
        let all = idle.withLock { idle in
            defer { idle = [:] }
            return idle.values.flatMap { $0 }
        }
        for connection in all { connection.channel.close(promise: nil) }
    }
}

/// One kept-alive connection to a container, used by one exchange at a time.
final class DirectConnection: Sendable {
    typealias ResponseBody = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, DirectClientHandler.Demand
    >

    /// A kept-alive connection closed before any byte of a response.
    struct Stale: Error {}

    let channel: any Channel
    let handler: DirectClientHandler
    let target: DirectTarget
    private weak let forwarder: DirectForwarder?

    init(channel: any Channel, handler: DirectClientHandler, forwarder: DirectForwarder, target: DirectTarget) {
        self.channel = channel
        self.handler = handler
        self.forwarder = forwarder
        self.target = target
    }

    /// Writes the request (its body from a task of its own, so that a container answering
    /// before it has read the body is heard) and returns the response head and body.
    func exchange(
        _ head: HTTPRequestHead, body: Body?, framing: RequestFraming.Body
    ) async throws -> (head: HTTPResponseHead, body: ResponseBody) {
        let promise = channel.eventLoop.makePromise(of: (HTTPResponseHead, ResponseBody).self)
        let handler = self.handler
        let settled: @Sendable (Bool) -> Void = { [weak self] reusable in
            guard let self else { return }
            if reusable, let forwarder = self.forwarder { forwarder.checkIn(self) } else { self.channel.close(promise: nil) }
        }
        channel.eventLoop.execute {
            handler.begin(head, hasBody: body != nil, promise: promise, settled: settled)
        }
        if let body {
            let channel = self.channel
            Task(executorPreference: forwarder?.executor) {
                do {
                    var sent = 0
                    for try await chunk in body {
                        sent += chunk.readableBytes
                        if case .length(let length) = framing, sent > length {
                            throw BerthError(.invalidInput, "the Worker's request body is longer than its Content-Length (\(length) bytes)")
                        }
                        try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk)))
                    }
                    if case .length(let length) = framing, sent != length {
                        throw BerthError(.invalidInput, "the Worker's request body is \(sent) bytes, its Content-Length \(length)")
                    }
                    try await channel.writeAndFlush(HTTPClientRequestPart.end(nil))
                    channel.eventLoop.execute { handler.requestSent() }
                } catch {
                    // The connection cannot carry another request: its framing is broken.
                    channel.eventLoop.execute { handler.fail(BerthError.wrap(error, "the Worker's request body failed")) }
                }
            }
        }
        let (answer, stream) = try await promise.futureResult.get()
        return (answer, stream)
    }
}

/// The HTTP/1 exchange on a ``DirectConnection``, on its event loop: the request written,
/// interim responses skipped, the body handed on with back-pressure (reads wait while the
/// reader is behind), the response timeout kept, and the connection given back only when
/// both messages ended cleanly and the container keeps it alive.
final class DirectClientHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The reader's demand for more of a body.
    struct Demand: NIOAsyncSequenceProducerDelegate {
        let loop: any EventLoop
        let handler: DirectClientHandler
        let exchange: Int

        func produceMore() {
            loop.execute { handler.resumeReading(exchange) }
        }

        func didTerminate() {
            loop.execute { handler.readerGone(exchange) }
        }
    }

    private struct Exchange {
        var number: Int
        var promise: EventLoopPromise<(HTTPResponseHead, DirectConnection.ResponseBody)>?
        var source: DirectConnection.ResponseBody.Source?
        var settled: @Sendable (Bool) -> Void
        var requestDone: Bool
        var keepAlive = true
        var sawBytes = false
        var lastRead: NIODeadline
    }

    let responseTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var exchange: Exchange?
    private var exchanges = 0
    /// Whether the connection carried an exchange before this one.
    private var served = false
    private var paused = false
    private var readPending = false
    private var timer: Scheduled<Void>?

    init(responseTimeout: TimeAmount) {
        self.responseTimeout = responseTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Starts an exchange: writes the head (and the end when there is no body).
    func begin(
        _ head: HTTPRequestHead, hasBody: Bool, promise: EventLoopPromise<(HTTPResponseHead, DirectConnection.ResponseBody)>,
        settled: @escaping @Sendable (Bool) -> Void
    ) {
        guard let context, context.channel.isActive, exchange == nil else {
            promise.fail(served ? DirectConnection.Stale() : NotSent(cause: ChannelError.ioOnClosedChannel))
            return
        }
        exchanges += 1
        exchange = Exchange(number: exchanges, promise: promise, settled: settled, requestDone: !hasBody, lastRead: .now())
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !hasBody { context.write(wrapOutboundOut(.end(nil)), promise: nil) }
        context.flush()
        armTimer(context: context)
    }

    func requestSent() {
        exchange?.requestDone = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var current = exchange else {
            // A container that talks without being asked cannot be trusted with the next request.
            context.close(promise: nil)
            return
        }
        current.sawBytes = true
        current.lastRead = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            if ForwardingPolicy.isInterim(status: Int(head.status.code)) {
                exchange = current
                return
            }
            current.keepAlive = head.isKeepAlive
            let made = DirectConnection.ResponseBody.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: true,
                delegate: Demand(loop: context.eventLoop, handler: self, exchange: current.number)
            )
            current.source = made.source
            let promise = current.promise
            current.promise = nil
            exchange = current
            promise?.succeed((head, made.sequence))
        case .body(let buffer):
            exchange = current
            if current.source?.yield(buffer) == .stopProducing { paused = true }
        case .end:
            current.source?.finish()
            exchange = nil
            served = true
            unpause(context: context)
            // A request still being written when its response ended leaves the connection
            // mid-message: it closes.
            current.settled(current.keepAlive && current.requestDone)
        }
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            readPending = true
        } else {
            context.read()
        }
    }

    fileprivate func resumeReading(_ number: Int) {
        guard exchange?.number == number, let context else { return }
        unpause(context: context)
    }

    /// Reads again: the reader caught up, or the body it was behind on ended (a connection
    /// that waits in the pool must notice the container closing it).
    private func unpause(context: ChannelHandlerContext) {
        paused = false
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// The reader dropped the body before its end: the connection cannot be reused.
    fileprivate func readerGone(_ number: Int) {
        guard let current = exchange, current.number == number, current.promise == nil else { return }
        exchange = nil
        current.settled(false)
    }

    /// Ends the exchange with `error` and closes the connection.
    func fail(_ error: any Error) {
        guard let current = exchange else { return }
        exchange = nil
        if let promise = current.promise {
            promise.fail(error)
        } else {
            current.source?.finish(error)
        }
        current.settled(false)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let current = exchange {
            if current.promise != nil {
                fail(current.sawBytes || !served ? ForwardingPolicy.unreachable(ForwardingPolicy.closedText) as any Error : DirectConnection.Stale())
            } else {
                fail(ForwardingPolicy.cut())
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let current = exchange {
            fail(current.promise != nil ? ForwardingPolicy.unreachable(ForwardingPolicy.channelReason(error), cause: error) : ForwardingPolicy.cut(cause: error))
        }
        context.close(promise: nil)
    }

    /// Checks the exchange's silence at most once per `responseTimeout`.
    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let deadline = (exchange?.lastRead ?? .now()) + responseTimeout
        timer = context.eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            self?.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard let current = exchange, let context else { return }
        if NIODeadline.now() - current.lastRead >= responseTimeout {
            let limit = Duration.nanoseconds(responseTimeout.nanoseconds)
            fail(current.promise != nil ? ForwardingPolicy.silent(after: limit) : ForwardingPolicy.stalled(after: limit))
            context.close(promise: nil)
        } else {
            armTimer(context: context)
        }
    }
}

/// Runs its closure once: when the body it belongs to ended, failed, or was dropped.
final class ExchangeEnd: Sendable {
    private let done = Atomic(false)
    private let action: @Sendable () -> Void

    init(_ action: @escaping @Sendable () -> Void) {
        self.action = action
    }

    func finish() {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        action()
    }

    deinit { finish() }
}

/// A direct response's body: the connection's stream, and its end.
struct DirectBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: DirectConnection.ResponseBody
    let end: ExchangeEnd

    func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), end: end) }

    struct Iterator: AsyncIteratorProtocol {
        var base: DirectConnection.ResponseBody.AsyncIterator
        let end: ExchangeEnd

        mutating func next() async throws -> ByteBuffer? {
            do {
                guard let chunk = try await base.next() else {
                    end.finish()
                    return nil
                }
                return chunk
            } catch {
                end.finish()
                throw error
            }
        }
    }
}
