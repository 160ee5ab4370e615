import BerthCore
import BerthRuntime
@testable import BerthServer
import NIOCore
import NIOEmbedded
import Testing

/// The warm path's real handlers (``WarmProxyHandler``, ``WarmExchange``, ``UpstreamPool``)
/// on `EmbeddedChannel`s: the client's connection and the container's, byte for byte.
@Suite("Warm path handlers on EmbeddedChannel")
struct WarmProxyHandlerTests {
    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"

    @Test("two pipelined requests in one write: answered in order over one pooled connection")
    func pipelining() throws {
        let h = try WarmHarness()
        try h.send("GET /a HTTP/1.1\r\nHost: one\r\n\r\nGET /b HTTP/1.1\r\nHost: two\r\n\r\n")
        #expect(h.upstreams.count == 1)
        let first = try h.containerReceived()
        #expect(first.hasPrefix("GET /a HTTP/1.1\r\nHost: container\r\n"))
        #expect(first.contains("X-Forwarded-For: 10.1.2.3\r\n"))
        #expect(first.contains("X-Forwarded-Host: one\r\n"))
        #expect(!first.contains("GET /b"), "the second request waits for the first response")
        #expect(try h.clientReceived().isEmpty)

        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
        #expect(try h.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
        let second = try h.containerReceived()
        #expect(second.hasPrefix("GET /b HTTP/1.1\r\n"), "the second request reuses the connection")
        #expect(second.contains("X-Forwarded-Host: two\r\n"))
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
        #expect(try h.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
        #expect(h.upstreams.count == 1 && h.pool.opened == 1 && h.pool.forwarded == 2)
        #expect(h.observer.statuses == [200, 200])
        #expect(h.inFlight == 0)
        #expect(h.client.isActive)
    }

    @Test("a request body is forwarded, and the response's connection headers are not")
    func bodyAndHeaders() throws {
        let h = try WarmHarness()
        try h.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(try h.clientReceived() == "HTTP/1.1 100 Continue\r\n\r\n")
        try h.send("hello")
        let sent = try h.containerReceived()
        #expect(sent.contains("Content-Length: 5\r\n"))
        #expect(!sent.lowercased().contains("expect"))
        #expect(sent.hasSuffix("\r\n\r\nhello"))
        try h.answer("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"), "the container's interim response is not passed on")
        #expect(!reply.contains("X-Hop") && !reply.contains("Keep-Alive"))
        #expect(reply.hasSuffix("hello\r\n0\r\n\r\n"))
        #expect(h.pool.opened == 1 && h.inFlight == 0)
    }

    @Test("the client closes mid-response: the container's connection is closed, the lease released")
    func earlyClientClose() throws {
        let h = try WarmHarness()
        try h.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
        #expect(h.inFlight == 1)
        #expect(try h.clientReceived().hasSuffix("0123456789"))
        h.client.close(promise: nil)
        h.loop.run()
        #expect(!h.upstreams[0].isActive, "the container's connection closes: its response has no reader")
        #expect(h.inFlight == 0)
        #expect(h.pool.take(Endpoint(host: "127.0.0.1", port: 40000)).map { _ in true } == nil, "nothing went back to the pool")
    }

    @Test("the container fails mid-body: the client's connection is cut, not given a short response as whole")
    func upstreamFailsMidBody() throws {
        let h = try WarmHarness()
        try h.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        #expect(try h.clientReceived().hasSuffix("hello\r\n"))
        h.upstreams[0].close(promise: nil)
        h.loop.run()
        #expect(!h.client.isActive, "the client's connection is closed")
        let rest = try h.clientReceived()
        #expect(!rest.contains("0\r\n\r\n"), "no last chunk: the client sees the response was cut")
        #expect(h.inFlight == 0)
        #expect(h.observer.statuses == [200])
    }

    @Test("a pooled connection the container closed: a GET is sent again on a new one")
    func retryOnReusedConnection() throws {
        let h = try WarmHarness()
        try h.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer(Self.ok)
        _ = try h.clientReceived()
        _ = try h.containerReceived()

        try h.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try h.containerReceived().hasPrefix("GET /2 "), "sent on the pooled connection")
        h.upstreams[0].close(promise: nil)
        h.loop.run()
        #expect(h.upstreams.count == 2, "a new connection")
        #expect(try h.containerReceived(1).hasPrefix("GET /2 HTTP/1.1\r\n"))
        try h.answer(Self.ok, on: 1)
        #expect(try h.clientReceived() == Self.ok)
        #expect(h.observer.statuses == [200, 200])
        #expect(h.inFlight == 0)
    }

    @Test("a pooled connection the container closed: a POST with a body gets 502, once")
    func noRetryForPost() throws {
        let h = try WarmHarness()
        try h.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer(Self.ok)
        _ = try h.clientReceived()

        try h.send("POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        h.upstreams[0].close(promise: nil)
        h.loop.run()
        #expect(h.upstreams.count == 1, "not sent again: the body may have reached the container")
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(reply.hasSuffix(
            "\r\n\r\nthe container did not answer: the connection was closed before a response; it may have crashed or closed the connection\n"
        ))
        #expect(h.observer.statuses == [200, 502])
        #expect(h.observer.failures.last == .containerUnreachable)
        #expect(h.inFlight == 0)
        #expect(h.client.isActive, "a keep-alive client keeps its connection after a 502")
    }

    @Test("a container that refuses connections: 502, and the client's connection serves on")
    func connectionRefused() throws {
        let h = try WarmHarness()
        h.connections.refuse = true
        try h.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(reply.contains("the container did not answer: "))
        #expect(h.inFlight == 0)
        h.connections.refuse = false
        try h.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try h.containerReceived().hasPrefix("GET /2 "))
    }

    @Test("the connection fails while the client's body waits: 502, and the client is read again")
    func connectFailsLater() throws {
        let h = try WarmHarness()
        h.connections.deferred = true
        try h.send("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        let before = h.reads.count
        h.client.read()
        #expect(h.reads.count == before, "nothing to send the body to yet")
        h.connections.waiting?.fail(IOError(errnoCode: 111, reason: "connect"))
        #expect(try h.clientReceived().contains("502 Bad Gateway"))
        #expect(h.reads.count == before + 1, "the rest of the body is read, to be dropped")
        try h.send("world")
        h.connections.deferred = false
        try h.send("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try h.containerReceived().hasPrefix("GET /2 "))
        try h.answer(Self.ok)
        #expect(try h.clientReceived() == Self.ok)
        #expect(h.observer.statuses == [502, 200])
        #expect(h.inFlight == 0)
    }

    @Test("a client that cannot take more: the container is not read until it can")
    func clientBackpressure() throws {
        let h = try WarmHarness()
        try h.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        h.client.isWritable = false
        h.client.pipeline.fireChannelWritabilityChanged()
        #expect(!h.upstreamAutoRead())
        h.client.isWritable = true
        h.client.pipeline.fireChannelWritabilityChanged()
        #expect(h.upstreamAutoRead())

        h.client.isWritable = false
        h.client.pipeline.fireChannelWritabilityChanged()
        try h.answer("cd")
        #expect(h.inFlight == 0)
        #expect(h.upstreamAutoRead(), "back in the pool with its reads on")
        h.client.isWritable = true
        try h.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try h.containerReceived().contains("GET /next "))
        #expect(h.upstreams.count == 1)
    }

    @Test("a container that cannot take more: the client is not read until it can")
    func upstreamBackpressure() throws {
        let h = try WarmHarness()
        try h.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        let upstream = h.upstreams[0]
        upstream.isWritable = false
        upstream.pipeline.fireChannelWritabilityChanged()
        let before = h.reads.count
        h.client.read()
        #expect(h.reads.count == before, "reading the client is held back")
        upstream.isWritable = true
        upstream.pipeline.fireChannelWritabilityChanged()
        #expect(h.reads.count == before + 1, "and resumes")
        try h.send("world")
        #expect(try h.containerReceived().hasSuffix("helloworld"))
    }

    @Test("graceful shutdown: the exchange in flight sends its whole response, then the connection closes")
    func gracefulShutdown() throws {
        let h = try WarmHarness()
        try h.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc")
        h.client.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(h.client.isActive)
        try h.answer("def")
        h.loop.run()
        #expect(try h.clientReceived() == "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef")
        #expect(!h.client.isActive)
        #expect(h.inFlight == 0)
    }

    @Test("HTTP/1.0 without a length: the body ends with the connection")
    func http10() throws {
        let h = try WarmHarness()
        try h.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
        h.loop.run()
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(!reply.lowercased().contains("keep-alive"))
        #expect(reply.hasSuffix("\r\n\r\nhi"))
        #expect(!h.client.isActive)
    }
}

/// After the runtime lost sight of the engine, a container's address may be another's: no new
/// connection until the runtime trusts its endpoints again; pooled ones are the container's.
@Suite("Warm path while the runtime rechecks its containers")
struct WarmSightTests {
    static let request = "GET /a HTTP/1.1\r\nHost: one\r\n\r\n"

    @Test("a pooled connection keeps serving; a new one is refused with 503 and Retry-After; trusted again, it opens")
    func distrusted() throws {
        let sight = EngineSight()
        let h = try WarmHarness(sight: sight)
        try h.send(Self.request)
        try h.answer(WarmProxyHandlerTests.ok)
        #expect(try h.clientReceived().hasPrefix("HTTP/1.1 200"))
        #expect(h.pool.opened == 1)

        sight.distrust()
        try h.send(Self.request)
        #expect(try h.containerReceived().hasPrefix("GET /a"), "the pooled connection is the container's own: it is used")
        try h.answer(WarmProxyHandlerTests.ok)
        #expect(try h.clientReceived().hasPrefix("HTTP/1.1 200"))

        // Two at once: the second needs a new connection, which is not opened.
        try h.send(Self.request + Self.request)
        try h.answer(WarmProxyHandlerTests.ok)
        let answers = try h.clientReceived()
        #expect(answers.hasPrefix("HTTP/1.1 200"), "\(answers)")
        h.upstreams[0].close(promise: nil)
        try h.send(Self.request)
        let refused = try h.clientReceived()
        #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused)")
        #expect(refused.lowercased().contains("retry-after:"), "\(refused)")
        #expect(refused.contains("lost sight of the container engine"), "\(refused)")
        #expect(h.pool.opened == 1, "no connection was opened while distrusted")
        #expect(h.inFlight == 0, "the refused request's lease is released")

        sight.trust()
        try h.send(Self.request)
        #expect(h.pool.opened == 2, "trusted again: a new connection opens")
        try h.answer(WarmProxyHandlerTests.ok, on: 1)
        #expect(try h.clientReceived().hasPrefix("HTTP/1.1 200"))
    }
}
