/// The state of one warm exchange (a client's request forwarded to a container and the
/// response back) as one enum, in the shape of swift-nio's `HTTPServerPipelineHandler`: every
/// event returns the ``Action`` to perform, and the machine performs none itself (no I/O, no
/// NIO types). ``WarmExchange`` is the shell that feeds it events and does what it says.
///
/// The events are those of HTTP/1.1 framing, not of any parser's typed parts: a request's
/// head, body bytes and end; the container's connection ready or failed; the response's
/// head, body bytes and end; the client gone; either side's writability.
struct WarmExchangeStateMachine {
    /// Where the exchange is.
    enum State: Equatable {
        /// Before the request head.
        case idle
        /// No connection to the container yet (a new one, or a new one again for a retry);
        /// request parts wait for it.
        case connecting(Request)
        /// The request goes out on a connection; no final response head yet.
        case sending(Request, Upstream)
        /// The response's head went to the client, its body follows.
        case streaming(Request, Upstream, closeClient: Bool)
        /// The whole response went to the client while the request is still being read: sent
        /// on to the container if its connection is still open (nil: dropped).
        case responseSent(Upstream?, closeClient: Bool)
        /// Over: the response was sent whole and the request read whole, or the exchange broke.
        case finished
    }

    /// The client's request so far.
    struct Request: Equatable {
        /// Its end was read.
        var ended = false
        /// Some of its body was read (and so may have reached a container).
        var bodyStarted = false
        /// A failed pooled connection was replaced once already.
        var retried = false
    }

    /// The container's connection in use.
    struct Upstream: Equatable {
        /// Taken from the pool rather than opened for this exchange.
        var reused: Bool
        /// It can take more of the request.
        var writable: Bool
        /// Its reads are paused because the client cannot take more of the response.
        var readsPaused = false
        /// The container's response allows another exchange on it.
        var reusable = true
    }

    private(set) var state = State.idle
    /// The client can take more of the response.
    private(set) var clientWritable: Bool
    /// The client's connection stays open after this exchange, as far as the request says.
    let clientKeepAlive: Bool
    /// The request may be sent again on a new connection when a pooled one fails before
    /// answering (GET, HEAD, OPTIONS: safe, and without a body sent).
    let retryable: Bool

    init(clientKeepAlive: Bool, retryable: Bool, clientWritable: Bool = true) {
        self.clientKeepAlive = clientKeepAlive
        self.retryable = retryable
        self.clientWritable = clientWritable
    }

    /// Whether the client may be read now: its bytes have somewhere to go.
    var canReadClient: Bool {
        switch state {
        case .connecting: false
        case .sending(_, let upstream), .streaming(_, let upstream, _), .responseSent(let upstream?, _): upstream.writable
        case .idle, .responseSent(nil, _), .finished: true
        }
    }

    /// Whether the exchange waits on the container now (its `response_timeout` runs): the
    /// request went out whole, or the container takes no more of it; and the container's
    /// reads are not paused for a slow client. Waiting on the client runs the client's
    /// timers instead.
    var waitsOnContainer: Bool {
        switch state {
        case .sending(let request, let upstream), .streaming(let request, let upstream, _):
            (request.ended || !upstream.writable) && !upstream.readsPaused
        case .idle, .connecting, .responseSent, .finished:
            false
        }
    }

    // MARK: Request

    mutating func requestHead(expectsContinue: Bool) -> Action {
        guard case .idle = state else { return .none }
        state = .connecting(Request())
        return .connect(sendContinue: expectsContinue)
    }

    mutating func requestBody() -> Action {
        if let action = updateRequest({ $0.bodyStarted = true }) { return action }
        if case .responseSent(.some, _) = state { return .forwardRequestPart }
        return .none
    }

    mutating func requestEnd() -> Action {
        if let action = updateRequest({ $0.ended = true }) { return action }
        switch state {
        case .responseSent(let upstream?, let closeClient):
            state = .finished
            return .forwardRequestEnd(then: Finish(upstream: Self.release(upstream), closeClient: closeClient))
        case .responseSent(nil, let closeClient):
            state = .finished
            return .finish(Finish(upstream: .none, closeClient: closeClient))
        default:
            return .none
        }
    }

    /// Notes a request part while the response has not ended: it waits for the connection,
    /// or goes out on it. Nil in other states.
    private mutating func updateRequest(_ change: (inout Request) -> Void) -> Action? {
        switch state {
        case .connecting(var request):
            change(&request)
            state = .connecting(request)
            return .bufferRequestPart
        case .sending(var request, let upstream):
            change(&request)
            state = .sending(request, upstream)
            return .forwardRequestPart
        case .streaming(var request, let upstream, let closeClient):
            change(&request)
            state = .streaming(request, upstream, closeClient: closeClient)
            return .forwardRequestPart
        case .idle, .responseSent, .finished:
            return nil
        }
    }

    /// The client's request broke off before its end: the parser found its body malformed
    /// (a bad chunk size). Its head, perhaps some of its body, may have reached the container,
    /// whose connection therefore closes: it never gets the rest, nor anything after it.
    /// `.none` when the request had already ended (what was malformed came after it).
    mutating func requestMalformed() -> Action {
        switch state {
        case .connecting(let request) where !request.ended, .sending(let request, _) where !request.ended:
            state = .finished
            return .refuseRequest
        case .streaming(let request, _, _) where !request.ended:
            state = .finished
            return .abortClient
        case .responseSent(let upstream, _):
            state = .finished
            return .finish(Finish(upstream: upstream == nil ? .none : .close, closeClient: true))
        case .idle, .connecting, .sending, .streaming, .finished:
            return .none
        }
    }

    // MARK: The container's connection

    mutating func upstreamConnected(reused: Bool, writable: Bool) -> Action {
        guard case .connecting(let request) = state else { return .closeUpstream }
        let upstream = Upstream(reused: reused, writable: writable, readsPaused: !clientWritable)
        state = .sending(request, upstream)
        return .sendRequest(upstreamReads: clientWritable)
    }

    /// The connection failed or closed before the exchange ended (or could not be opened).
    mutating func upstreamFailed() -> Action {
        switch state {
        case .connecting(let request):
            return fail(request)
        case .sending(var request, let upstream):
            // A pooled connection the container had closed: once more on a new one, when
            // nothing of the request is lost by it.
            if upstream.reused, retryable, !request.retried, !request.bodyStarted {
                request.retried = true
                state = .connecting(request)
                return .reconnect(replayEnd: request.ended)
            }
            return fail(request)
        case .streaming:
            state = .finished
            return .abortClient
        case .responseSent(.some, let closeClient):
            // The response was whole; only the rest of the request has nowhere to go.
            state = .responseSent(nil, closeClient: closeClient)
            return .none
        case .idle, .responseSent(nil, _), .finished:
            return .none
        }
    }

    private mutating func fail(_ request: Request) -> Action {
        let closeClient = !clientKeepAlive
        if request.ended {
            state = .finished
            return .sendFailure(closeClient: closeClient, then: Finish(upstream: .none, closeClient: closeClient))
        }
        state = .responseSent(nil, closeClient: closeClient)
        return .sendFailure(closeClient: closeClient, then: nil)
    }

    /// The container was silent for `response_timeout` while the exchange waited on it:
    /// before its response head, the client gets Berth's 504; after it, the cut response
    /// closes the client's connection. The shell closes the container's connection.
    mutating func containerTimedOut() -> Action {
        switch state {
        case .sending(let request, _):
            return fail(request)
        case .streaming:
            state = .finished
            return .abortClient
        case .idle, .connecting, .responseSent, .finished:
            return .none
        }
    }

    // MARK: Response

    /// The container's final response head (interim ones are not passed on and never reach
    /// the machine). `bodyEndsWithClose`: the client can only tell the body's end by the
    /// connection closing.
    mutating func responseHead(upstreamKeepAlive: Bool, bodyEndsWithClose: Bool) -> Action {
        guard case .sending(let request, var upstream) = state else { return .none }
        upstream.reusable = upstreamKeepAlive
        let closeClient = !clientKeepAlive || bodyEndsWithClose
        state = .streaming(request, upstream, closeClient: closeClient)
        return .sendResponseHead(closeClient: closeClient)
    }

    mutating func responseBody() -> Action {
        guard case .streaming = state else { return .none }
        return .forwardResponseBody
    }

    mutating func responseEnd() -> Action {
        guard case .streaming(let request, let upstream, let closeClient) = state else { return .none }
        if request.ended {
            state = .finished
            return .sendResponseEnd(then: Finish(upstream: Self.release(upstream), closeClient: closeClient))
        }
        state = .responseSent(upstream, closeClient: closeClient)
        return .sendResponseEnd(then: nil)
    }

    private static func release(_ upstream: Upstream) -> Release {
        upstream.reusable ? .giveBack(resumeReads: upstream.readsPaused) : .close
    }

    // MARK: The client

    /// The client's connection closed (or the handler was removed).
    mutating func clientClosed() -> Action {
        switch state {
        case .finished:
            return .none
        case .idle:
            state = .finished
            return .none
        case .connecting, .sending, .streaming, .responseSent:
            state = .finished
            return .abandon
        }
    }

    // MARK: Flow control

    /// The client's connection can take more (or no more) of the response: the container's
    /// connection is read, or not, to match.
    mutating func clientWritabilityChanged(_ writable: Bool) -> Action {
        clientWritable = writable
        return updateUpstream { upstream in
            guard upstream.readsPaused == writable else { return .none }
            upstream.readsPaused = !writable
            return .setUpstreamReads(writable)
        }
    }

    /// The container's connection can take more (or no more) of the request: the client is
    /// read, or not, to match.
    mutating func upstreamWritabilityChanged(_ writable: Bool) -> Action {
        updateUpstream { upstream in
            upstream.writable = writable
            return writable ? .resumeClientReads : .none
        }
    }

    private mutating func updateUpstream(_ change: (inout Upstream) -> Action) -> Action {
        switch state {
        case .sending(let request, var upstream):
            let action = change(&upstream)
            state = .sending(request, upstream)
            return action
        case .streaming(let request, var upstream, let closeClient):
            let action = change(&upstream)
            state = .streaming(request, upstream, closeClient: closeClient)
            return action
        case .responseSent(var upstream?, let closeClient):
            let action = change(&upstream)
            state = .responseSent(upstream, closeClient: closeClient)
            return action
        case .idle, .connecting, .responseSent(nil, _), .finished:
            return .none
        }
    }
}
