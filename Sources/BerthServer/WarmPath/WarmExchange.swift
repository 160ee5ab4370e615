import BerthCore
import BerthRuntime
import NIOCore
import NIOHTTP1

/// One request forwarded on the warm path: the client's request to a container over a pooled
/// connection on the client's event loop, and the container's response back, both streamed
/// part by part with backpressure (a slow reader stops reading the container, a slow
/// container stops reading the client). Everything here runs on that one event loop.
final class WarmExchange {
    private unowned let handler: WarmProxyHandler
    private let context: ChannelHandlerContext
    private let pool: UpstreamPool
    private let lease: ContainerLease
    private let clientHead: HTTPRequestHead
    private let upstreamHead: HTTPRequestHead
    private let started = ContinuousClock.now

    private var upstream: UpstreamConnection?
    /// Request parts that arrived before the container's connection was ready.
    private var pending: [HTTPClientRequestPart] = []
    private var sentBody = false
    private var requestDone = false
    private var response = ResponseState.waiting
    private var reusedConnection = false
    private var retried = false
    private var upstreamReusable = true
    private var closeClient = false
    private var finished = false
    /// The client sent `Expect: 100-continue` and waits for a go-ahead before its body.
    private let continueFirst: Bool

    enum ResponseState { case waiting, streaming, done }

    init(handler: WarmProxyHandler, context: ChannelHandlerContext, pool: UpstreamPool, request: HTTPRequestHead, lease: ContainerLease) {
        self.handler = handler
        self.context = context
        self.pool = pool
        self.lease = lease
        self.clientHead = request
        self.upstreamHead = Self.forwardedHead(request, client: context.channel.remoteAddress?.ipAddress)
        self.closeClient = !request.isKeepAlive
        self.continueFirst = Self.expectsContinue(request)
    }

    // MARK: Request

    func start() {
        pool.forwarded += 1
        // As nginx does: the go-ahead comes from here, at once, and the container gets the
        // request without `Expect` (interim responses from it are not passed on).
        if continueFirst {
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: clientHead.version, status: .continue))), promise: nil)
        }
        if let connection = pool.take(lease.endpoint) {
            attach(connection, reused: true)
        } else {
            connect()
        }
    }

    private func connect() {
        pool.connect(lease.endpoint).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                if self.finished {
                    connection.channel.close(promise: nil)
                } else {
                    self.attach(connection, reused: false)
                }
            case .failure(let error):
                self.upstreamFailed(error)
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, reused: Bool) {
        upstream = connection
        reusedConnection = reused
        connection.handler.exchange = self
        let channel = connection.channel
        channel.write(NIOAny(HTTPClientRequestPart.head(upstreamHead)), promise: nil)
        for part in pending {
            if case .body = part { sentBody = true }
            channel.write(NIOAny(part), promise: nil)
        }
        pending = []
        channel.flush()
        if !context.channel.isWritable { setUpstreamReading(false) }
        handler.resumeReading(context: context)
    }

    /// A part of the client's request body.
    func clientPart(_ part: HTTPServerRequestPart) {
        let forwarded: HTTPClientRequestPart
        switch part {
        case .head: return
        case .body(let buffer): forwarded = .body(.byteBuffer(buffer))
        case .end(let trailers): forwarded = .end(trailers)
        }
        if case .end = part { requestDone = true }
        // After the response failed, the rest of the request is read and dropped.
        if response == .done && upstream == nil {
            maybeFinish()
            return
        }
        if let upstream {
            if case .body = part { sentBody = true }
            if requestDone {
                upstream.channel.writeAndFlush(NIOAny(forwarded), promise: nil)
            } else {
                upstream.channel.write(NIOAny(forwarded), promise: nil)
            }
        } else {
            pending.append(forwarded)
        }
        maybeFinish()
    }

    func flushUpstream() {
        upstream?.channel.flush()
    }

    /// Whether the client may be read: the container's connection is open and can take more.
    var canSendUpstream: Bool {
        guard let upstream else { return response == .done }
        return upstream.channel.isWritable
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        if writable { handler.resumeReading(context: context) }
    }

    // MARK: Response

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard !finished else { return }
        switch part {
        case .head(let head):
            // Interim responses (100 Continue…) are not passed on; the final one follows.
            if ForwardingPolicy.isInterim(status: Int(head.status.code)) { return }
            response = .streaming
            upstreamReusable = head.isKeepAlive
            context.write(NIOAny(HTTPServerResponsePart.head(clientResponseHead(head))), promise: nil)
            ForwardingPolicy.report(lease.controller, status: Int(head.status.code), since: started)
        case .body(let buffer):
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            response = .done
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(trailers)), promise: nil)
            lease.releaseNow()
            maybeFinish()
        }
    }

    func upstreamReadComplete() {
        context.flush()
    }

    func clientWritabilityChanged(_ writable: Bool) {
        setUpstreamReading(writable)
    }

    private func setUpstreamReading(_ on: Bool) {
        guard let channel = upstream?.channel else { return }
        try? channel.syncOptions?.setOption(.autoRead, value: on)
    }

    // MARK: Failures

    /// The container's connection failed or closed before the exchange ended.
    func upstreamFailed(_ error: any Error) {
        guard !finished else { return }
        upstream = nil
        switch response {
        case .waiting:
            // A pooled connection the container had closed: once more on a new one, when
            // nothing of the request is lost by it.
            if reusedConnection, !retried, !sentBody, [.GET, .HEAD, .OPTIONS].contains(clientHead.method) {
                retried = true
                reusedConnection = false
                // Nothing but the head and the end went out; send them again.
                pending = requestDone ? [.end(nil)] : []
                connect()
                return
            }
            response = .done
            upstreamReusable = false
            pending = []
            let failure = ForwardingPolicy.failure(error)
            sendError(failure)
            lease.releaseNow()
            maybeFinish()
        case .streaming:
            finished = true
            lease.releaseNow()
            handler.exchangeAborted(self, context: context)
        case .done:
            // The response was complete; only the rest of the request body had nowhere to go.
            upstreamReusable = false
            maybeFinish()
        }
    }

    /// The client went away: the container's connection closes (its response has no reader).
    func clientClosed() {
        guard !finished else { return }
        finished = true
        lease.releaseNow()
        if let upstream {
            upstream.handler.exchange = nil
            upstream.channel.close(promise: nil)
        }
        upstream = nil
    }

    private func maybeFinish() {
        guard !finished, requestDone, response == .done else { return }
        finished = true
        if let upstream {
            if upstreamReusable {
                pool.giveBack(upstream)
            } else {
                upstream.handler.exchange = nil
                upstream.channel.close(promise: nil)
            }
        }
        upstream = nil
        handler.exchangeFinished(self, closeConnection: closeClient, context: context)
    }

    private func sendError(_ error: BerthError) {
        let status = ForwardingPolicy.status(for: error) ?? .internalServerError
        var headers = HTTPHeaders()
        let body = ByteBuffer(string: error.message + "\n")
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.readableBytes))
        if closeClient { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(
            version: clientHead.version, status: HTTPResponseStatus(statusCode: status.code, reasonPhrase: status.reasonPhrase), headers: headers
        )
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        ForwardingPolicy.report(lease.controller, status: status.code, since: started, failure: error.code)
    }

    // MARK: Heads

    /// Whether an HTTP/1.1 client waits for `100 Continue` before sending its body.
    static func expectsContinue(_ request: HTTPRequestHead) -> Bool {
        let version = (request.version.major, request.version.minor)
        return request.headers.contains {
            HopByHop.equalsIgnoringCase($0.name, "expect") && ForwardingPolicy.expectsContinue($0.value, clientVersion: version)
        }
    }

    /// The request as the container gets it (see ``ForwardingPolicy``): HTTP/1.1 keep-alive,
    /// framed as the client framed it.
    static func forwardedHead(_ request: HTTPRequestHead, client: String?) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headers.count + 4)
        ForwardingPolicy.rewriteRequestHeaders(request.headers, client: client, scheme: "http", framing: .asReceived) {
            headers.add(name: $0, value: $1)
        }
        return HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)
    }

    /// The container's response head as the client gets it (see ``ForwardingPolicy``): the
    /// client's HTTP version, and `Connection` set when the client's connection will close
    /// or (HTTP/1.0) stay open.
    private func clientResponseHead(_ head: HTTPResponseHead) -> HTTPResponseHead {
        let listed = HopByHop.connectionListed(in: head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 1)
        var hasLength = false
        for (name, value) in head.headers {
            switch ForwardingPolicy.responseHeader(name, listed: listed) {
            case .drop: continue
            case .keep: break
            case .contentLength: hasLength = true
            }
            headers.add(name: name, value: value)
        }
        let version = (clientHead.version.major, clientHead.version.minor)
        if ForwardingPolicy.bodyEndsWithClose(
            clientVersion: version, isHEAD: clientHead.method == .HEAD, status: Int(head.status.code), hasContentLength: hasLength
        ) {
            closeClient = true
        }
        if version == (1, 0) {
            if !closeClient { headers.add(name: "Connection", value: "keep-alive") }
        } else if closeClient {
            headers.add(name: "Connection", value: "close")
        }
        return HTTPResponseHead(version: clientHead.version, status: head.status, headers: headers)
    }
}
