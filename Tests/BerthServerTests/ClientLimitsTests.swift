import BerthConfig
import BerthCore
import BerthRuntime
@testable import BerthServer
import NIOCore
import NIOEmbedded
import Testing

/// The timers of one client connection, on their own.
@Suite("Client timeouts: which timer runs")
struct ClientTimeoutsTests {
    static let settings = ClientTimeouts.Settings(header: .seconds(10), bodyIdle: .seconds(20), keepalive: .seconds(30), send: .seconds(40))
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    @Test("a fresh connection: header_timeout from the accept")
    func fresh() {
        let t = ClientTimeouts(settings: Self.settings, now: start)
        #expect(t.deadline?.expiry == .header && t.deadline?.at == at(10))
        #expect(t.expired(at: at(9)) == nil)
        #expect(t.expired(at: at(10)) == .header)
        #expect(t.verdict(.header) == .close, "no byte of a request came: closed without a word")
    }

    @Test("a head arriving byte by byte: header_timeout counts from its first byte, not from the last")
    func slowHead() {
        var t = ClientTimeouts(settings: Self.settings, now: start)
        t.bytesArrived(now: at(3))
        t.readRequested(now: at(3))
        t.bytesArrived(now: at(8))
        t.bytesArrived(now: at(12))
        #expect(t.deadline?.at == at(13))
        #expect(t.verdict(.header) == .requestTimeout)
    }

    @Test("a body: body_idle_timeout from the last byte while Berth asks for more; none while it does not")
    func body() {
        var t = ClientTimeouts(settings: Self.settings, now: start)
        t.bytesArrived(now: at(1))
        t.requestHead(now: at(1))
        #expect(t.deadline == nil, "Berth has not asked for the body yet")
        t.readRequested(now: at(2))
        #expect(t.deadline?.expiry == .bodyIdle && t.deadline?.at == at(22))
        t.bytesArrived(now: at(5))
        #expect(t.deadline == nil, "the container is slow to take it: reads are held back, no timer")
        t.readRequested(now: at(9))
        #expect(t.deadline?.at == at(29))
        #expect(t.verdict(.bodyIdle) == .requestTimeout)
        t.responseHead(status: 200)
        #expect(t.verdict(.bodyIdle) == .close, "a response under way is not interrupted by a 408")
    }

    @Test("waiting for a response runs no timer; keepalive_timeout from its end")
    func keepalive() {
        var t = ClientTimeouts(settings: Self.settings, now: start)
        t.bytesArrived(now: at(1))
        t.requestHead(now: at(1))
        t.requestEnd()
        t.readRequested(now: at(1))
        #expect(t.deadline == nil)
        t.responseHead(status: 100)
        t.responseHead(status: 200)
        t.responseEnd(now: at(50))
        #expect(t.deadline?.expiry == .keepalive && t.deadline?.at == at(80))
        t.bytesArrived(now: at(60))
        #expect(t.deadline?.expiry == .header && t.deadline?.at == at(70), "the next head has begun")
    }

    @Test("a client that takes none of a response: send_timeout from when it stopped")
    func send() {
        var t = ClientTimeouts(settings: Self.settings, now: start)
        t.requestHead(now: at(1))
        t.requestEnd()
        t.responseHead(status: 200)
        t.writabilityChanged(false, now: at(5))
        t.writabilityChanged(false, now: at(7))
        #expect(t.deadline?.expiry == .send && t.deadline?.at == at(45))
        t.writabilityChanged(true, now: at(8))
        #expect(t.deadline == nil)
    }

    @Test("pipelined: the next request's parts wait with reads off and run no timer")
    func pipelined() {
        var t = ClientTimeouts(settings: Self.settings, now: start)
        t.requestHead(now: at(1))
        t.requestEnd()
        t.requestHead(now: at(1))
        #expect(t.pending == 2)
        #expect(t.deadline == nil)
        t.responseHead(status: 200)
        t.responseEnd(now: at(3))
        #expect(t.deadline == nil, "the second request's body is not asked for yet")
    }

    @Test("an upgraded connection runs none")
    func upgraded() {
        var t = ClientTimeouts(settings: Self.settings, now: start)
        t.requestHead(now: at(1))
        t.requestEnd()
        t.responseHead(status: 101)
        t.responseEnd(now: at(2))
        #expect(t.deadline == nil)
    }
}

/// The gateway's own pipeline (``BerthHTTPChannel/configure``) on `EmbeddedChannel`s, with
/// its clock moved by hand.
@Suite("Client limits on the gateway's pipeline")
struct ClientLimitsTests {
    static func limits(_ change: (inout LimitSettings) -> Void = { _ in }) -> LimitSettings {
        var limits = LimitSettings()
        limits.headerTimeout = .seconds(10)
        limits.bodyIdleTimeout = .seconds(20)
        limits.keepaliveTimeout = .seconds(30)
        limits.responseTimeout = .seconds(40)
        limits.sendTimeout = .seconds(50)
        change(&limits)
        return limits
    }

    @Test("a head that never completes: 408 after header_timeout, then the connection closes")
    func headerTimeout() throws {
        let h = try WarmHarness(limits: Self.limits())
        h.loop.advanceTime(by: .seconds(2))
        try h.send("GET / HTTP/1.1\r\nHost: x\r\n")
        for _ in 0..<3 {
            h.client.read()
            h.loop.advanceTime(by: .seconds(3))
            try h.send("X-A: b\r\n")
        }
        #expect(h.client.isActive, "9 s after the first byte")
        h.loop.advanceTime(by: .seconds(1))
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(reply.contains("connection: close\r\n"))
        #expect(reply.hasSuffix("\r\n\r\nthe request head did not arrive within berth.limits.header_timeout\n"))
        h.loop.run()
        #expect(!h.client.isActive)
        #expect(h.upstreams.isEmpty, "nothing reached a container")
    }

    @Test("an idle keep-alive connection closes after keepalive_timeout, without a response")
    func keepaliveTimeout() throws {
        let h = try WarmHarness(limits: Self.limits())
        try h.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer(WarmProxyHandlerTests.ok)
        #expect(try h.clientReceived() == WarmProxyHandlerTests.ok)
        h.client.read()
        h.loop.advanceTime(by: .seconds(29))
        #expect(h.client.isActive)
        h.loop.advanceTime(by: .seconds(1))
        h.loop.run()
        #expect(!h.client.isActive)
        #expect(try h.clientReceived().isEmpty)
    }

    @Test("a stalled upload on the warm path: 408 after body_idle_timeout, the lease released, the container's connection closed")
    func stalledUpload() throws {
        let h = try WarmHarness(limits: Self.limits())
        try h.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello")
        #expect(h.inFlight == 1)
        h.client.read()
        h.loop.advanceTime(by: .seconds(15))
        try h.send("more")
        h.client.read()
        h.loop.advanceTime(by: .seconds(19))
        #expect(h.client.isActive, "each part of the body restarts the timer")
        h.loop.advanceTime(by: .seconds(1))
        h.loop.run()
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(reply.hasSuffix("the request body stopped coming for berth.limits.body_idle_timeout\n"))
        #expect(!h.client.isActive)
        #expect(h.inFlight == 0, "the object's activity is released")
        #expect(!h.upstreams[0].isActive, "the half-sent request never goes back to the pool")
    }

    @Test("a body the container is slow to take runs no client timer")
    func slowContainerTakingBody() throws {
        let h = try WarmHarness(limits: Self.limits { $0.responseTimeout = .seconds(600) })
        try h.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello")
        let upstream = h.upstreams[0]
        upstream.isWritable = false
        upstream.pipeline.fireChannelWritabilityChanged()
        h.client.read()
        h.loop.advanceTime(by: .seconds(300))
        #expect(h.client.isActive, "Berth holds the client back; the client is not at fault")
        #expect(h.inFlight == 1)
    }

    @Test("a container silent before its head: 504 after response_timeout, its connection closed")
    func responseTimeoutBeforeHead() throws {
        let h = try WarmHarness(limits: Self.limits())
        try h.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        h.loop.advanceTime(by: .seconds(39))
        #expect(try h.clientReceived().isEmpty)
        h.loop.advanceTime(by: .seconds(1))
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(reply.hasSuffix("the container did not answer within berth.limits.response_timeout (40s)\n"))
        h.loop.run()
        #expect(!h.upstreams[0].isActive)
        #expect(h.inFlight == 0)
        #expect(h.observer.failures == [.timeout])
        #expect(h.client.isActive, "the client's connection serves on")
        try h.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(h.upstreams.count == 2, "on a new container connection")
        try h.answer(WarmProxyHandlerTests.ok, on: 1)
        #expect(try h.clientReceived() == WarmProxyHandlerTests.ok)
    }

    @Test("a body that stops coming from the container: the client's connection is cut after response_timeout")
    func responseTimeoutMidBody() throws {
        let h = try WarmHarness(limits: Self.limits())
        try h.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        h.loop.advanceTime(by: .seconds(30))
        try h.answer("wo")
        h.loop.advanceTime(by: .seconds(39))
        #expect(h.client.isActive, "each read restarts it: a stream is bounded by idle time, not length")
        h.loop.advanceTime(by: .seconds(1))
        h.loop.run()
        #expect(!h.client.isActive, "cut: never handed a short body as a whole one")
        #expect(!h.upstreams[0].isActive)
        #expect(h.inFlight == 0)
    }

    @Test("a slow client of a long response is not blamed on the container")
    func pausedReadsAreNotSilence() throws {
        let h = try WarmHarness(limits: Self.limits { $0.sendTimeout = .seconds(600) })
        try h.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        h.client.isWritable = false
        h.client.pipeline.fireChannelWritabilityChanged()
        h.loop.advanceTime(by: .seconds(100))
        #expect(h.client.isActive && h.upstreams[0].isActive, "the container's reads are paused for the client")
        h.client.isWritable = true
        h.client.pipeline.fireChannelWritabilityChanged()
        h.loop.advanceTime(by: .seconds(39))
        try h.answer("cd")
        #expect(try h.clientReceived().hasSuffix("abcd"))
        #expect(h.inFlight == 0)
    }

    @Test("a client that takes none of a response: closed after send_timeout")
    func sendTimeout() throws {
        let h = try WarmHarness(limits: Self.limits())
        try h.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try h.answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
        h.client.isWritable = false
        h.client.pipeline.fireChannelWritabilityChanged()
        h.loop.advanceTime(by: .seconds(49))
        #expect(h.client.isActive)
        h.loop.advanceTime(by: .seconds(1))
        h.loop.run()
        #expect(!h.client.isActive)
        #expect(h.inFlight == 0)
    }

    @Test("a head larger than max_header_bytes: 431, and the connection closes")
    func headerTooLarge() throws {
        let h = try WarmHarness(limits: Self.limits { $0.maxHeaderBytes = 2048 })
        try h.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 1900))\r\n\r\n")
        #expect(h.upstreams.count == 1, "a head within the limit is forwarded")
        let h2 = try WarmHarness(limits: Self.limits { $0.maxHeaderBytes = 2048 })
        try h2.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 3000))\r\n\r\n")
        let reply = try h2.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(reply.contains("max_header_bytes"))
        h2.loop.run()
        #expect(!h2.client.isActive)
        #expect(h2.upstreams.isEmpty)
    }

    @Test("one connection past max_connections: 503 and closed; the others are untouched")
    func maxConnections() throws {
        let count = ConnectionCount(limit: 2)
        let loop = EmbeddedEventLoop()
        func open() throws -> EmbeddedChannel {
            let channel = EmbeddedChannel(handler: ConnectionLimitHandler(count: count), loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "10.0.0.1", port: 1)).wait()
            return channel
        }
        let first = try open()
        let second = try open()
        let third = try open()
        let refusal = try #require(try third.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: refusal).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(String(buffer: refusal).contains("max_connections"))
        loop.run()
        #expect(!third.isActive)
        #expect(first.isActive && second.isActive)
        #expect(count.current == 2 && count.refused == 1)
        try third.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try third.readInbound(as: ByteBuffer.self) == nil, "nothing of a refused connection is parsed")
        _ = try first.close().wait()
        #expect(count.current == 1)
        let fourth = try open()
        #expect(try fourth.readOutbound(as: ByteBuffer.self) == nil, "room again")
        #expect(fourth.isActive)
    }
}
