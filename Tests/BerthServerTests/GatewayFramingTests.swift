import BerthCore
import BerthRuntime
@testable import BerthServer
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Framing at the gateway on `EmbeddedChannel`s: what NIO's parser (llhttp) rejects by
/// itself and what it lets through, and what the gateway's handler then does on both paths:
/// refusals with Berth's error and a closed connection, in order after the responses before
/// them, and requests framed by Berth on the container's connection.
@Suite("Gateway framing on EmbeddedChannel")
struct GatewayFramingTests {
    /// What NIO's HTTP server pipeline makes of some bytes on its own.
    enum Parsed: Equatable, CustomStringConvertible {
        /// An error, and no head: nothing of the request reaches any handler.
        case rejected
        /// The head goes on, then the parser fails (on the head's framing or the body).
        case headThenError
        /// A whole request.
        case accepted

        var description: String {
            switch self {
            case .rejected: "rejected"
            case .headThenError: "head, then error"
            case .accepted: "accepted"
            }
        }
    }

    static func parse(_ text: String) throws -> Parsed {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
        var failed = false
        do { try channel.writeInbound(ByteBuffer(string: text)) } catch { failed = true }
        var head = false
        var end = false
        while let part = try channel.readInbound(as: HTTPServerRequestPart.self) {
            if case .head = part { head = true }
            if case .end = part { end = true }
        }
        _ = try? channel.finish()
        if failed { return head ? .headThenError : .rejected }
        return head && end ? .accepted : .headThenError
    }

    static let post = "POST /x HTTP/1.1\r\nHost: a\r\n"
    static let body = "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"

    /// Requests the gateway refuses before any handler sees them, and how NIO's parser alone
    /// treats each: the gateway's behaviour must not depend on it.
    static let refusals: [(name: String, bytes: String, parser: Parsed, status: Int)] = [
        ("Content-Length with Transfer-Encoding", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", .rejected, 400),
        ("Transfer-Encoding with Content-Length", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n" + body, .rejected, 400),
        ("two Content-Lengths that agree", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", .rejected, 400),
        ("Content-Length: 5, 5", post + "Content-Length: 5, 5\r\n\r\nhello", .rejected, 400),
        ("Content-Length: +5", post + "Content-Length: +5\r\n\r\nhello", .rejected, 400),
        ("Content-Length: 0x5", post + "Content-Length: 0x5\r\n\r\nhello", .rejected, 400),
        ("Content-Length: -1", post + "Content-Length: -1\r\n\r\nhello", .rejected, 400),
        ("Content-Length too large", post + "Content-Length: 99999999999999999999\r\n\r\nhello", .rejected, 400),
        ("empty Content-Length", post + "Content-Length: \r\n\r\nhello", .rejected, 400),
        ("obs-fold", post + "X-A: a\r\n b\r\nContent-Length: 5\r\n\r\nhello", .rejected, 400),
        ("obs-fold in Transfer-Encoding", post + "Transfer-Encoding: gzip,\r\n chunked" + body, .rejected, 400),
        ("space before the colon", post + "Transfer-Encoding : chunked" + body, .rejected, 400),
        ("a space in a name", post + "X A: b\r\nContent-Length: 5\r\n\r\nhello", .rejected, 400),
        ("an empty name", post + ": b\r\nContent-Length: 5\r\n\r\nhello", .rejected, 400),
        ("a control character in a name", post + "X\u{1}A: b\r\n\r\n", .rejected, 400),
        ("a NUL in a value", post + "X-A: a\u{0}b\r\n\r\n", .rejected, 400),
        ("a bare CR in a value", post + "X-A: a\rb\r\n\r\n", .rejected, 400),
        ("a vertical tab before chunked", post + "Transfer-Encoding: \u{b}chunked" + body, .rejected, 400),
        ("bare LF line endings", "POST /x HTTP/1.1\nHost: a\nContent-Length: 5\n\nhello", .rejected, 400),
        ("a bare LF after a header", post + "X-A: b\nContent-Length: 5\r\n\r\nhello", .rejected, 400),
        ("chunked, chunked", post + "Transfer-Encoding: chunked, chunked" + body, .rejected, 400),
        ("two Transfer-Encoding: chunked lines", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked" + body, .rejected, 400),
        ("chunked, gzip", post + "Transfer-Encoding: chunked, gzip" + body, .rejected, 400),
        ("HTTP/1.0 with Transfer-Encoding and Content-Length", "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5" + body, .rejected, 400),
        // The head goes on before llhttp finds that chunked is not the final coding.
        ("xchunked", post + "Transfer-Encoding: xchunked" + body, .headThenError, 400),
        ("identity", post + "Transfer-Encoding: identity" + body, .headThenError, 400),
        ("gzip", post + "Transfer-Encoding: gzip" + body, .headThenError, 400),
        ("chunked followed by a tab", post + "Transfer-Encoding: chunked\t" + body, .headThenError, 400),
        ("chunked;q=1", post + "Transfer-Encoding: chunked;q=1" + body, .headThenError, 501),
        // What llhttp lets through.
        ("gzip, chunked", post + "Transfer-Encoding: gzip, chunked" + body, .accepted, 501),
        ("gzip, chunked on a GET", "GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked" + body, .accepted, 501),
        ("two lines, gzip then chunked", post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked" + body, .accepted, 501),
        ("chunked;q=1 , chunked", post + "Transfer-Encoding: chunked;q=1 , chunked" + body, .accepted, 400),
        ("an empty Transfer-Encoding", post + "Transfer-Encoding: \r\n\r\n", .accepted, 400),
        ("an empty Transfer-Encoding with Content-Length", post + "Transfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello", .accepted, 400),
        ("HTTP/1.0 with Transfer-Encoding", "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked" + body, .accepted, 400),
        ("TRACE with a body", "TRACE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", .accepted, 400),
        ("TRACE with a chunked body", "TRACE /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked" + body, .accepted, 400),
    ]

    /// Request bodies llhttp rejects after the head went on.
    static let brokenBodies: [(name: String, bytes: String)] = [
        ("chunk size 0x5", post + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
        ("chunk size 5 ;ext", post + "Transfer-Encoding: chunked\r\n\r\n5 ;ext\r\nhello\r\n0\r\n\r\n"),
        ("a huge chunk size", post + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
        ("a negative chunk size", post + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"),
        ("bare LF after a chunk size", post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"),
        ("a chunk longer than its size", post + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"),
        ("a Content-Length trailer", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n"),
    ]

    @Test("NIO's parser alone: what it rejects before the head, after it, and what it lets through")
    func parserAlone() throws {
        for refusal in Self.refusals {
            #expect(try Self.parse(refusal.bytes) == refusal.parser, "\(refusal.name)")
        }
        for broken in Self.brokenBodies {
            #expect(try Self.parse(broken.bytes) == .headThenError, "\(broken.name)")
        }
        let accepted = [
            Self.post + "Transfer-Encoding: Chunked" + Self.body, Self.post + "Transfer-Encoding:  chunked " + Self.body, Self.post + "Transfer-Encoding:\tchunked" + Self.body,
            Self.post + "Transfer-Encoding: , chunked" + Self.body, Self.post + "Content-Length: 005\r\n\r\nhello",
            Self.post + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n",
            "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "HEAD /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked" + Self.body,
        ]
        for text in accepted {
            #expect(try Self.parse(text) == .accepted, "\(text.debugDescription)")
        }
    }

    @Test("every refusal, on both paths: Berth's error and reason, the connection closed, nothing passed on")
    func refusals() throws {
        for warm in [true, false] {
            for refusal in Self.refusals {
                let h = try WarmHarness(warm: warm)
                try h.send(refusal.bytes + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
                h.loop.run()
                let reply = try h.clientReceived()
                let path = warm ? "warm" : "Worker"
                let reason = refusal.status == 501 ? "501 Not Implemented" : "400 Bad Request"
                // A refused head is answered in its version; bytes the parser rejects in 1.1.
                let minor = refusal.parser != .rejected && refusal.bytes.contains(" HTTP/1.0\r\n") ? 0 : 1
                #expect(reply.hasPrefix("HTTP/1.\(minor) \(reason)\r\n"), "\(path): \(refusal.name): \(reply)")
                #expect(reply.lowercased().contains("\r\nconnection: close\r\n"), "\(path): \(refusal.name)")
                #expect(reply.contains("RFC 9"), "\(path): \(refusal.name): the reason is given: \(reply)")
                #expect(!h.client.isActive, "\(path): \(refusal.name): the connection is closed")
                #expect(h.upstreams.isEmpty, "\(path): \(refusal.name): no container connection")
                #expect(try h.client.readInbound(as: HTTPServerRequestPart.self) == nil, "\(path): \(refusal.name): nothing reaches Hummingbird")
                #expect(h.inFlight == 0)
            }
        }
    }

    @Test("a warm request whose body breaks: nothing of it reaches the container, the client gets 400")
    func brokenBodyWarm() throws {
        for broken in Self.brokenBodies {
            let h = try WarmHarness()
            // A connection in the pool, so that the head could go out at once.
            try h.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
            try h.answer(WarmProxyHandlerTests.ok)
            _ = try h.clientReceived()
            _ = try h.containerReceived()
            try h.send(broken.bytes + "GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
            h.loop.run()
            let reply = try h.clientReceived()
            #expect(reply.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(broken.name): \(reply)")
            #expect(reply.contains("the request was refused: "), "\(broken.name)")
            #expect(try h.containerReceived().isEmpty, "\(broken.name): the head waited for the end of the read, and was dropped")
            #expect(!h.upstreams[0].isActive, "\(broken.name): the container's connection is closed, never reused")
            #expect(!h.client.isActive, "\(broken.name)")
            #expect(h.inFlight == 0, "\(broken.name)")
            #expect(h.observer.statuses == [200, 400], "\(broken.name)")
        }
    }

    @Test("a body that breaks in a later read: the container's connection closes mid-request, the client gets 400")
    func brokenBodyLater() throws {
        let h = try WarmHarness()
        try h.send(Self.post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        let sent = try h.containerReceived()
        #expect(sent == "POST /x HTTP/1.1\r\nHost: container\r\nX-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        try h.send("zz\r\n")
        h.loop.run()
        #expect(try h.clientReceived().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(!h.upstreams[0].isActive, "the container never gets the rest, nor anything after it")
        #expect(!h.client.isActive)
        #expect(h.inFlight == 0)
        #expect(h.pool.take(Endpoint(host: "127.0.0.1", port: 40000)).map { _ in true } == nil, "nothing went back to the pool")
    }

    @Test("a Worker's request whose body breaks: its body fails and the client gets Berth's 400")
    func brokenBodyWorker() throws {
        let h = try WarmHarness(warm: false)
        try h.send(Self.post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        #expect(throws: HTTPParserError.invalidChunkSize, "the error reaches Hummingbird, whose body stream fails") {
            try h.send("zz\r\n")
        }
        h.loop.run()
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(reply.hasSuffix("the request was refused: a chunk size in its body is not a hexadecimal number that fits, or is followed by more than a chunk extension (RFC 9112 §7.1)\n"))
        #expect(!h.client.isActive)
    }

    @Test("a refusal after pipelined requests waits for their responses, on both paths")
    func refusalInOrder() throws {
        let h = try WarmHarness()
        try h.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n" + Self.post + "Transfer-Encoding: gzip, chunked" + Self.body)
        #expect(try h.containerReceived().hasPrefix("GET /a "))
        #expect(try h.clientReceived().isEmpty)
        try h.answer(WarmProxyHandlerTests.ok)
        h.loop.run()
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix(WarmProxyHandlerTests.ok + "HTTP/1.1 501 Not Implemented\r\n"), "\(reply)")
        #expect(!h.client.isActive)
        #expect(try h.containerReceived().isEmpty)

        let worker = try WarmHarness(warm: false)
        try worker.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n" + "GET /b HTTP/1.1\r\nHost: a\r\n\u{1}\r\n\r\n")
        guard case .head(let head) = try worker.client.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("the first request reaches Hummingbird")
            return
        }
        #expect(head.uri == "/a")
        #expect(try worker.clientReceived().isEmpty, "the refusal waits for the response before it")
        try worker.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2"])))
        try worker.client.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "hi"))))
        try worker.client.writeOutbound(HTTPServerResponsePart.end(nil))
        worker.loop.run()
        let replies = try worker.clientReceived()
        #expect(replies.hasPrefix("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhiHTTP/1.1 400 Bad Request\r\n"), "\(replies)")
        #expect(replies.contains("a header name or value has a character it may not"))
        #expect(!worker.client.isActive)
    }

    @Test("a connection that ends mid-request gets no refusal: the parser's end-of-stream error is none")
    func endOfStream() throws {
        for warm in [true, false] {
            let h = try WarmHarness(warm: warm)
            try h.send("GET /x HTTP/1.1\r\nHost: a\r\n")
            h.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            h.loop.run()
            #expect(throws: HTTPParserError.invalidEOFState, "passed on as before") { try h.client.throwIfErrorCaught() }
            #expect(try h.clientReceived().isEmpty, "\(warm ? "warm" : "Worker"): nothing written to a client that is gone")
        }
    }

    @Test("bytes that are not HTTP after a warm request: its response, then Berth's 400, then the close")
    func garbageAfterWarmRequest() throws {
        let h = try WarmHarness()
        try h.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n\u{1}\u{2} not http\r\n\r\n")
        try h.answer(WarmProxyHandlerTests.ok)
        h.loop.run()
        let reply = try h.clientReceived()
        #expect(reply.hasPrefix(WarmProxyHandlerTests.ok + "HTTP/1.1 400 Bad Request\r\n"), "\(reply)")
        #expect(!h.client.isActive)
    }

    /// What NIO's request encoder (the warm path's, towards the container) makes of a head
    /// and a body on its own: why Berth must set the framing itself.
    static func encoded(_ method: HTTPMethod, _ headers: HTTPHeaders = [:], body: String?) throws -> String {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/", headers: headers)))
        if let body { try channel.writeOutbound(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body)))) }
        try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        return try WarmHarness.written(channel)
    }

    @Test("NIO's request encoder alone: without framing headers, bodies of GET, HEAD, OPTIONS, DELETE and TRACE go out unframed")
    func encoderAlone() throws {
        for method in [HTTPMethod.GET, .HEAD, .OPTIONS, .DELETE, .RAW(value: "PROPFIND")] {
            #expect(try Self.encoded(method, body: "hello") == "\(method.rawValue) / HTTP/1.1\r\n\r\nhello", "\(method)")
            #expect(try Self.encoded(method, body: nil) == "\(method.rawValue) / HTTP/1.1\r\n\r\n", "\(method)")
        }
        #expect(try Self.encoded(.TRACE, ["Content-Length": "5"], body: "hello") == "TRACE / HTTP/1.1\r\n\r\nhello", "its framing header is removed")
        #expect(try Self.encoded(.GET, ["Transfer-Encoding": "Chunked"], body: "hello") == "GET / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\nhello",
                "a client's Chunked, passed through, announces chunks and the body goes out raw")
        #expect(try Self.encoded(.GET, ["Transfer-Encoding": "gzip, chunked"], body: "hello") == "GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\nhello")
        for method in [HTTPMethod.POST, .PUT, .PATCH] {
            #expect(try Self.encoded(method, body: "hello") == "\(method.rawValue) / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        }
        // With Berth's own framing header every method is framed.
        for method in [HTTPMethod.GET, .HEAD, .OPTIONS, .DELETE] {
            #expect(try Self.encoded(method, ["Transfer-Encoding": "chunked"], body: "hello") == "\(method.rawValue) / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            #expect(try Self.encoded(method, ["Content-Length": "5"], body: "hello") == "\(method.rawValue) / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        }
    }

    @Test("what the container gets is framed by Berth: per method, with and without a body")
    func forwardedFraming() throws {
        // (request as sent, framing header and body the container must get)
        let cases: [(String, String)] = [
            ("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n"),
            ("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "\r\n"),
            ("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello", "Content-Length: 5\r\n\r\nhello"),
            ("GET /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked" + Self.body, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            ("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n"),
            ("HEAD /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "Content-Length: 5\r\n\r\nhello"),
            ("HEAD /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked" + Self.body, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            ("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", "Content-Length: 0\r\n\r\n"),
            ("OPTIONS /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  chunked " + Self.body, "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            ("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n"),
            ("DELETE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "Content-Length: 5\r\n\r\nhello"),
            ("TRACE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "\r\n"),
            ("POST /x HTTP/1.1\r\nHost: a\r\n\r\n", "Content-Length: 0\r\n\r\n"),
            ("POST /x HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "Content-Length: 5\r\n\r\nhello"),
            // For POST, PUT and PATCH NIO's encoder writes the name in lowercase.
            ("PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            ("PATCH /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "transfer-encoding: chunked\r\n\r\n0\r\n\r\n"),
            ("PROPFIND /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "Content-Length: 5\r\n\r\nhello"),
        ]
        for (sent, framed) in cases {
            let h = try WarmHarness()
            try h.send(sent)
            h.loop.run()
            let method = sent.prefix { $0 != " " }
            let expected = "\(method) /x HTTP/1.1\r\nHost: container\r\nX-Forwarded-For: 10.1.2.3\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\n" + framed
            let received = try h.containerReceived()
            #expect(received == expected, "\(sent.debugDescription)")
        }
    }
}
