import AsyncHTTPClient
import BerthCore
@testable import BerthRuntime
import NIOCore
import Testing

@Suite("Forwarding policy: the rules both proxies follow")
struct ForwardingPolicyTests {
    typealias Header = (name: String, value: String)

    func rewritten(_ headers: [Header], authority: String? = nil, client: String? = "127.0.0.1", framing: ForwardingPolicy.Framing) -> [Header] {
        var out: [Header] = []
        ForwardingPolicy.rewriteRequestHeaders(headers, authority: authority, client: client, scheme: "http", framing: framing) {
            out.append(($0, $1))
        }
        return out
    }

    func values(_ headers: [Header], _ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    @Test("request headers: each one's rule, in any case")
    func requestRules() {
        let none = ConnectionTokens()
        let cases: [(String, ForwardingPolicy.RequestHeaderRule)] = [
            ("Host", .host), ("HOST", .host), ("x-forwarded-for", .forwardedFor), ("X-Forwarded-Proto", .drop),
            ("X-Forwarded-Host", .drop), ("Expect", .drop), ("Connection", .drop), ("Keep-Alive", .drop), ("TE", .drop),
            ("Upgrade", .drop), ("Proxy-Authorization", .drop), ("X-Keep", .keep), ("Accept", .keep), ("Hostname", .keep),
            ("cf-container-target-port", .drop), ("CF-Container-Target-Port", .drop), ("cf-container-target-ports", .keep),
        ]
        for (name, rule) in cases {
            #expect(ForwardingPolicy.requestHeader(name, listed: none) == rule, "\(name)")
        }
        #expect(ForwardingPolicy.requestHeader("X-Secret", listed: ["x-secret"]) == .drop)
        #expect(ForwardingPolicy.requestHeader("x-SECRET", listed: ["x-secret"]) == .drop)
    }

    @Test("framing: the client's is never forwarded; the warm path sets Berth's, as AsyncHTTPClient would")
    func framing() {
        for name in ["Content-Length", "transfer-encoding", "CONTENT-LENGTH", "Transfer-Encoding"] {
            #expect(ForwardingPolicy.requestHeader(name, listed: []) == .drop, "\(name)")
        }
        let sent: [Header] = [("Transfer-Encoding", "Chunked"), ("Content-Length", "5"), ("transfer-encoding", "gzip, chunked")]
        let cases: [(RequestFraming.Body, String, Header?)] = [
            (.length(5), "POST", ("Content-Length", "5")), (.length(5), "GET", ("Content-Length", "5")),
            (.length(12), "HEAD", ("Content-Length", "12")), (.chunked, "GET", ("Transfer-Encoding", "chunked")),
            (.chunked, "OPTIONS", ("Transfer-Encoding", "chunked")), (.chunked, "DELETE", ("Transfer-Encoding", "chunked")),
            (.none, "POST", ("Content-Length", "0")), (.none, "PUT", ("Content-Length", "0")), (.none, "OPTIONS", ("Content-Length", "0")),
            (.none, "PROPFIND", ("Content-Length", "0")), (.none, "GET", nil), (.none, "HEAD", nil), (.none, "DELETE", nil), (.none, "TRACE", nil),
        ]
        for (body, method, header) in cases {
            let out = rewritten(sent, framing: .gateway(body, method: method))
            let framing = out.filter { ["content-length", "transfer-encoding"].contains($0.name.lowercased()) }
            #expect(framing.map(\.name) == (header.map { [$0.name] } ?? []), "\(method) \(body)")
            #expect(framing.map(\.value) == (header.map { [$0.value] } ?? []), "\(method) \(body)")
            #expect(out.last?.name == header?.name ?? "X-Forwarded-Proto", "Berth's framing header comes last")
        }
        #expect(values(rewritten(sent, framing: .byHTTPClient), "content-length").isEmpty)
        #expect(values(rewritten(sent, framing: .byHTTPClient), "transfer-encoding").isEmpty)
    }

    @Test("the rewritten request: Host first, kept headers in order, then X-Forwarded-*")
    func rewrite() {
        let headers: [Header] = [
            ("Host", "example.test"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"), ("X-A", "a"),
            ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil"), ("Expect", "100-continue"),
            ("Content-Length", "3"), ("X-B", "b"),
        ]
        let out = rewritten(headers, framing: .gateway(.length(3), method: "POST"))
        #expect(out.map(\.name) == ["Host", "X-A", "X-B", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Content-Length"])
        #expect(values(out, "host") == ["container"])
        #expect(values(out, "x-forwarded-for") == ["10.0.0.1, 127.0.0.1"])
        #expect(values(out, "x-forwarded-proto") == ["http"])
        #expect(values(out, "x-forwarded-host") == ["example.test"])
        #expect(values(rewritten(headers, framing: .byHTTPClient), "content-length").isEmpty)
    }

    @Test("without Host the authority is forwarded; without a client address no X-Forwarded-For")
    func authority() {
        let out = rewritten([("Accept", "*/*")], authority: "site.test:8080", client: nil, framing: .byHTTPClient)
        #expect(values(out, "x-forwarded-host") == ["site.test:8080"])
        #expect(values(out, "x-forwarded-for").isEmpty)
        #expect(values(rewritten([], client: "::1", framing: .gateway(.none, method: "GET")), "x-forwarded-for") == ["::1"])
    }

    @Test("response headers: hop-by-hop, listed and Transfer-Encoding dropped; Content-Length noted")
    func responseRules() {
        #expect(ForwardingPolicy.responseHeader("Transfer-Encoding", listed: []) == .drop)
        #expect(ForwardingPolicy.responseHeader("Connection", listed: []) == .drop)
        #expect(ForwardingPolicy.responseHeader("keep-alive", listed: []) == .drop)
        #expect(ForwardingPolicy.responseHeader("X-Internal", listed: ["x-internal"]) == .drop)
        #expect(ForwardingPolicy.responseHeader("content-length", listed: []) == .contentLength)
        #expect(ForwardingPolicy.responseHeader("Content-Type", listed: []) == .keep)
        #expect(ForwardingPolicy.responseHeader("Set-Cookie", listed: []) == .keep)
    }

    @Test("Connection tokens: found among the headers, compared without case")
    func tokens() {
        let headers: [Header] = [("connection", " X-A ,close,\tx-b"), ("Connection", "keep-alive"), ("X-A", "1")]
        let listed = HopByHop.connectionListed(in: headers)
        #expect(listed == ["x-a", "x-b"])
        #expect(listed.contains("X-a"))
        #expect(!listed.contains("x-c"))
        #expect(HopByHop.connectionListed(in: [("Connection", "close")] as [Header]).isEmpty)
        #expect(HopByHop.connectionListed(in: [("Accept", "x-a")] as [Header]).isEmpty)
        #expect(HopByHop.connectionListed(["Keep-Alive, , close"]).isEmpty)
    }

    @Test("framing towards the client: an HTTP/1.0 body without a length ends with the connection")
    func clientFraming() {
        #expect(ForwardingPolicy.bodyEndsWithClose(clientVersion: (1, 0), isHEAD: false, status: 200, hasContentLength: false))
        #expect(!ForwardingPolicy.bodyEndsWithClose(clientVersion: (1, 0), isHEAD: false, status: 200, hasContentLength: true))
        #expect(!ForwardingPolicy.bodyEndsWithClose(clientVersion: (1, 0), isHEAD: true, status: 200, hasContentLength: false))
        #expect(!ForwardingPolicy.bodyEndsWithClose(clientVersion: (1, 0), isHEAD: false, status: 204, hasContentLength: false))
        #expect(!ForwardingPolicy.bodyEndsWithClose(clientVersion: (1, 0), isHEAD: false, status: 304, hasContentLength: false))
        #expect(!ForwardingPolicy.bodyEndsWithClose(clientVersion: (1, 1), isHEAD: false, status: 200, hasContentLength: false))
        #expect(ForwardingPolicy.isInterim(status: 100))
        #expect(ForwardingPolicy.isInterim(status: 103))
        #expect(!ForwardingPolicy.isInterim(status: 101))
        #expect(!ForwardingPolicy.isInterim(status: 200))
    }

    @Test("Expect: 100-continue is recognised for HTTP/1.1 only")
    func expectContinue() {
        #expect(ForwardingPolicy.expectsContinue(" 100-Continue ", clientVersion: (1, 1)))
        #expect(!ForwardingPolicy.expectsContinue("100-continue", clientVersion: (1, 0)))
        #expect(!ForwardingPolicy.expectsContinue("something", clientVersion: (1, 1)))
    }

    @Test("failures: one text and one status for both proxies")
    func failures() {
        for error in [ChannelError.eof, HTTPClientError.remoteConnectionClosed] as [any Error] {
            let failure = ForwardingPolicy.failure(error)
            #expect(failure.message == "the container did not answer: the connection was closed before a response; it may have crashed or closed the connection")
            #expect(failure.code == .containerUnreachable)
            #expect(failure.code.httpStatus == 502)
        }
        #expect(ForwardingPolicy.reason(ChannelError.connectTimeout(.seconds(10))) == "connecting timed out")
        #expect(ForwardingPolicy.reason(HTTPClientError.connectTimeout) == "connecting timed out")
        let refused = IOError(errnoCode: 111, reason: "connect")
        #expect(ForwardingPolicy.failure(refused).message.contains(refused.description))
        #expect(ForwardingPolicy.interrupted(ChannelError.eof).code == .containerUnreachable)
        // The table, for the codes a request can meet: a start refused by max_instances is
        // 503, a start failure 500, a bad port 400.
        #expect(BerthError.Code.capacityExceeded.httpStatus == 503)
        #expect(BerthError.Code.startFailed.httpStatus == 500)
        #expect(BerthError.Code.internal.httpStatus == 500)
        #expect(BerthError.Code.invalidInput.httpStatus == 400)
        #expect(BerthError.Code.notImplemented.httpStatus == 501)
        #expect(BerthError.Code.notImplemented.httpReason == "Not Implemented")
    }
}
