@testable import BerthServer
import Testing

@Suite("Warm exchange state machine: every transition, without I/O")
struct WarmExchangeStateMachineTests {
    typealias Machine = WarmExchangeStateMachine
    typealias Finish = Machine.Finish

    /// A machine after the head of a GET, connected to a pooled (or new) connection.
    func sending(reused: Bool = true, retryable: Bool = true, keepAlive: Bool = true) -> Machine {
        var m = Machine(clientKeepAlive: keepAlive, retryable: retryable)
        #expect(m.requestHead(expectsContinue: false) == .connect(sendContinue: false))
        #expect(m.upstreamConnected(reused: reused, writable: true) == .sendRequest(upstreamReads: true))
        return m
    }

    func streaming(requestEnded: Bool = true, upstreamKeepAlive: Bool = true) -> Machine {
        var m = sending()
        if requestEnded { #expect(m.requestEnd() == .forwardRequestPart) }
        #expect(m.responseHead(upstreamKeepAlive: upstreamKeepAlive, bodyEndsWithClose: false) == .sendResponseHead(closeClient: false))
        return m
    }

    @Test("a whole exchange: head, connection, body, end, response, back to the pool")
    func happyPath() {
        var m = Machine(clientKeepAlive: true, retryable: false)
        #expect(m.state == .idle)
        #expect(m.canReadClient)
        #expect(m.requestHead(expectsContinue: true) == .connect(sendContinue: true))
        #expect(m.requestHead(expectsContinue: true) == .none, "one head per exchange")
        #expect(!m.canReadClient, "nothing to send the body to yet")
        #expect(m.requestBody() == .bufferRequestPart)
        #expect(m.upstreamConnected(reused: false, writable: true) == .sendRequest(upstreamReads: true))
        #expect(m.canReadClient)
        #expect(m.requestBody() == .forwardRequestPart)
        #expect(m.requestEnd() == .forwardRequestPart)
        #expect(m.responseHead(upstreamKeepAlive: true, bodyEndsWithClose: false) == .sendResponseHead(closeClient: false))
        #expect(m.responseBody() == .forwardResponseBody)
        #expect(m.responseEnd() == .sendResponseEnd(then: Finish(upstream: .giveBack(resumeReads: false), closeClient: false)))
        #expect(m.state == .finished)
        #expect(m.responseBody() == .none)
        #expect(m.responseEnd() == .none)
        #expect(m.requestBody() == .none)
        #expect(m.clientClosed() == .none)
    }

    @Test("a request that breaks off (its body malformed): refused before a response, cut during one, dropped after")
    func requestMalformed() {
        var connecting = Machine(clientKeepAlive: true, retryable: true)
        _ = connecting.requestHead(expectsContinue: false)
        #expect(connecting.requestMalformed() == .refuseRequest)
        #expect(connecting.state == .finished)
        #expect(connecting.upstreamConnected(reused: false, writable: true) == .closeUpstream, "a connection that comes later is closed")

        var midBody = sending()
        #expect(midBody.requestBody() == .forwardRequestPart)
        #expect(midBody.requestMalformed() == .refuseRequest)
        #expect(midBody.state == .finished)
        #expect(midBody.responseHead(upstreamKeepAlive: true, bodyEndsWithClose: false) == .none)

        var midResponse = streaming(requestEnded: false)
        #expect(midResponse.requestMalformed() == .abortClient, "the response cannot be finished: the client's connection is cut")
        #expect(midResponse.state == .finished)

        var sent = streaming(requestEnded: false)
        _ = sent.responseEnd()
        #expect(sent.requestMalformed() == .finish(Finish(upstream: .close, closeClient: true)), "never back in the pool mid-request")

        var gone = streaming(requestEnded: false)
        _ = gone.responseEnd()
        _ = gone.upstreamFailed()
        #expect(gone.requestMalformed() == .finish(Finish(upstream: .none, closeClient: true)))

        // What is malformed came after a whole request: not this exchange's.
        var ended = sending()
        _ = ended.requestEnd()
        #expect(ended.requestMalformed() == .none)
        #expect(ended.state == .sending(.init(ended: true), .init(reused: true, writable: true)))
        var finished = streaming()
        _ = finished.responseEnd()
        #expect(finished.requestMalformed() == .none)
        var idle = Machine(clientKeepAlive: true, retryable: true)
        #expect(idle.requestMalformed() == .none)
    }

    @Test("the request's end buffered before the connection is ready")
    func bufferedEnd() {
        var m = Machine(clientKeepAlive: true, retryable: true)
        _ = m.requestHead(expectsContinue: false)
        #expect(m.requestEnd() == .bufferRequestPart)
        #expect(m.state == .connecting(.init(ended: true)))
        #expect(m.upstreamConnected(reused: false, writable: true) == .sendRequest(upstreamReads: true))
        #expect(m.state == .sending(.init(ended: true), .init(reused: false, writable: true)))
    }

    @Test("the response ends before the request: the rest of the request still goes to the container")
    func responseFirst() {
        var m = streaming(requestEnded: false)
        #expect(m.requestBody() == .forwardRequestPart)
        #expect(m.responseEnd() == .sendResponseEnd(then: nil))
        #expect(m.canReadClient)
        #expect(m.requestBody() == .forwardRequestPart)
        #expect(m.requestEnd() == .forwardRequestEnd(then: Finish(upstream: .giveBack(resumeReads: false), closeClient: false)))
        #expect(m.state == .finished)
    }

    @Test("the container's connection fails after the response but before the request's end")
    func failureAfterResponse() {
        var m = streaming(requestEnded: false)
        _ = m.responseEnd()
        #expect(m.upstreamFailed() == .none)
        #expect(m.state == .responseSent(nil, closeClient: false))
        #expect(m.requestBody() == .none, "dropped")
        #expect(m.requestEnd() == .finish(Finish(upstream: .none, closeClient: false)))
        #expect(m.upstreamFailed() == .none)
    }

    @Test("a response without keep-alive: the connection is closed, not pooled")
    func upstreamNotReusable() {
        var m = streaming(upstreamKeepAlive: false)
        #expect(m.responseEnd() == .sendResponseEnd(then: Finish(upstream: .close, closeClient: false)))
    }

    @Test("the client's connection closes after the exchange: its request, or a body that ends with the connection")
    func closeClient() {
        var m = sending(keepAlive: false)
        _ = m.requestEnd()
        #expect(m.responseHead(upstreamKeepAlive: true, bodyEndsWithClose: false) == .sendResponseHead(closeClient: true))
        #expect(m.responseEnd() == .sendResponseEnd(then: Finish(upstream: .giveBack(resumeReads: false), closeClient: true)))

        var old = sending()
        _ = old.requestEnd()
        #expect(old.responseHead(upstreamKeepAlive: true, bodyEndsWithClose: true) == .sendResponseHead(closeClient: true))
        #expect(old.responseEnd() == .sendResponseEnd(then: Finish(upstream: .giveBack(resumeReads: false), closeClient: true)))
    }

    @Test("a pooled connection that fails before answering: one retry for a GET without body")
    func retry() {
        var m = sending(reused: true)
        _ = m.requestEnd()
        #expect(m.upstreamFailed() == .reconnect(replayEnd: true))
        #expect(m.state == .connecting(.init(ended: true, retried: true)))
        #expect(m.upstreamConnected(reused: false, writable: true) == .sendRequest(upstreamReads: true))
        #expect(m.upstreamFailed() == .sendFailure(closeClient: false, then: Finish(upstream: .none, closeClient: false)))
        #expect(m.state == .finished)

        var before = sending(reused: true)
        #expect(before.upstreamFailed() == .reconnect(replayEnd: false), "the end had not been read")
        var twice = sending(reused: true)
        _ = twice.upstreamFailed()
        _ = twice.upstreamConnected(reused: true, writable: true)
        #expect(twice.upstreamFailed() == .sendFailure(closeClient: false, then: nil), "only once")
    }

    @Test("no retry: a new connection, a body sent, or a method that is not safe")
    func noRetry() {
        var fresh = sending(reused: false)
        _ = fresh.requestEnd()
        #expect(fresh.upstreamFailed() == .sendFailure(closeClient: false, then: Finish(upstream: .none, closeClient: false)))

        var withBody = sending(reused: true)
        _ = withBody.requestBody()
        #expect(withBody.upstreamFailed() == .sendFailure(closeClient: false, then: nil))
        #expect(withBody.state == .responseSent(nil, closeClient: false))
        #expect(withBody.canReadClient, "the rest of the body is read and dropped")
        #expect(withBody.requestBody() == .none)
        #expect(withBody.requestEnd() == .finish(Finish(upstream: .none, closeClient: false)))

        var post = sending(reused: true, retryable: false, keepAlive: false)
        _ = post.requestEnd()
        #expect(post.upstreamFailed() == .sendFailure(closeClient: true, then: Finish(upstream: .none, closeClient: true)))
    }

    @Test("a connection that cannot be opened: Berth's error at once")
    func connectFails() {
        var m = Machine(clientKeepAlive: true, retryable: true)
        _ = m.requestHead(expectsContinue: false)
        _ = m.requestEnd()
        #expect(m.upstreamFailed() == .sendFailure(closeClient: false, then: Finish(upstream: .none, closeClient: false)))
    }

    @Test("the container's connection breaks mid-response: the client's connection is cut")
    func failureMidResponse() {
        var m = streaming()
        _ = m.responseBody()
        #expect(m.upstreamFailed() == .abortClient)
        #expect(m.state == .finished)
        #expect(m.responseBody() == .none)
    }

    @Test("the client goes away: in any state before the end, the exchange is abandoned")
    func clientCloses() {
        var connecting = Machine(clientKeepAlive: true, retryable: true)
        _ = connecting.requestHead(expectsContinue: false)
        #expect(connecting.clientClosed() == .abandon)
        #expect(connecting.upstreamConnected(reused: false, writable: true) == .closeUpstream, "a connection that comes late is closed")
        #expect(connecting.upstreamFailed() == .none)

        var s = sending()
        #expect(s.clientClosed() == .abandon)
        var st = streaming()
        #expect(st.clientClosed() == .abandon)
        #expect(st.clientClosed() == .none)
        var sent = streaming(requestEnded: false)
        _ = sent.responseEnd()
        #expect(sent.clientClosed() == .abandon)
        var idle = Machine(clientKeepAlive: true, retryable: true)
        #expect(idle.clientClosed() == .none)
        #expect(idle.state == .finished)
    }

    @Test("a client that cannot take more pauses the container's reads, and they resume")
    func clientBackpressure() {
        var m = streaming()
        #expect(m.clientWritabilityChanged(false) == .setUpstreamReads(false))
        #expect(m.clientWritabilityChanged(false) == .none, "already paused")
        #expect(m.clientWritabilityChanged(true) == .setUpstreamReads(true))
        #expect(m.clientWritabilityChanged(true) == .none)
        _ = m.clientWritabilityChanged(false)
        #expect(m.responseEnd() == .sendResponseEnd(then: Finish(upstream: .giveBack(resumeReads: true), closeClient: false)),
                "a pooled connection goes back with its reads on")
    }

    @Test("a client not writable when the connection is ready: the container is not read")
    func clientBackpressureBeforeConnect() {
        var m = Machine(clientKeepAlive: true, retryable: true)
        _ = m.requestHead(expectsContinue: false)
        #expect(m.clientWritabilityChanged(false) == .none, "no connection to pause yet")
        #expect(m.upstreamConnected(reused: false, writable: true) == .sendRequest(upstreamReads: false))
        #expect(m.clientWritabilityChanged(true) == .setUpstreamReads(true))
    }

    @Test("a container that cannot take more stops the client's reads, and they resume")
    func upstreamBackpressure() {
        var m = sending()
        #expect(m.canReadClient)
        #expect(m.upstreamWritabilityChanged(false) == .none)
        #expect(!m.canReadClient)
        #expect(m.upstreamWritabilityChanged(true) == .resumeClientReads)
        #expect(m.canReadClient)

        var late = Machine(clientKeepAlive: true, retryable: true)
        _ = late.requestHead(expectsContinue: false)
        #expect(late.upstreamConnected(reused: true, writable: false) == .sendRequest(upstreamReads: true))
        #expect(!late.canReadClient)
        #expect(late.upstreamWritabilityChanged(true) == .resumeClientReads)

        var sent = streaming(requestEnded: false)
        _ = sent.responseEnd()
        _ = sent.upstreamWritabilityChanged(false)
        #expect(!sent.canReadClient, "the rest of the request still goes to the container")
        var finished = streaming()
        _ = finished.responseEnd()
        #expect(finished.upstreamWritabilityChanged(true) == .none)
        #expect(finished.clientWritabilityChanged(false) == .none)
    }

    @Test("events out of order are ignored")
    func outOfOrder() {
        var m = Machine(clientKeepAlive: true, retryable: true)
        #expect(m.responseHead(upstreamKeepAlive: true, bodyEndsWithClose: false) == .none)
        #expect(m.responseBody() == .none)
        #expect(m.responseEnd() == .none)
        #expect(m.requestBody() == .none)
        #expect(m.requestEnd() == .none)
        #expect(m.upstreamFailed() == .none)
        #expect(m.upstreamConnected(reused: false, writable: true) == .closeUpstream)
        var s = streaming()
        #expect(s.responseHead(upstreamKeepAlive: true, bodyEndsWithClose: false) == .none, "one final head")
    }
}
