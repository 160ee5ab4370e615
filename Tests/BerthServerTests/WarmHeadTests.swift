import BerthCore
import BerthAPI
@testable import BerthControlPlane
import BerthRuntime
@testable import BerthServer
import NIOHTTP1
import Testing

@Suite("Warm path: the heads it forwards")
struct WarmHeadTests {
    @Test("hop-by-hop headers are recognised in any case, and nothing else is")
    func hopByHop() {
        for name in ["Connection", "KEEP-ALIVE", "te", "Trailer", "upgrade", "Proxy-Connection", "proxy-authenticate", "Proxy-Authorization"] {
            #expect(HopByHop.contains(name), "\(name)")
        }
        for name in ["Content-Length", "Transfer-Encoding", "X-Te", "Connections", "Host", "Upgrade-Insecure-Requests", ""] {
            #expect(!HopByHop.contains(name), "\(name)")
        }
    }

    @Test("the request head the container gets: Host, X-Forwarded-*, connection-listed headers dropped")
    func forwardedHead() {
        let headers = HTTPHeaders([
            ("Host", "example.test"), ("Connection", "keep-alive, X-Secret , upgrade"), ("X-Secret", "1"), ("Upgrade", "h2c"),
            ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-Proto", "https"), ("X-Keep", "yes"), ("Content-Length", "3"), ("TE", "trailers"),
            ("Expect", "100-continue"),
        ])
        let request = HTTPRequestHead(version: .http1_0, method: .POST, uri: "/a?b=c", headers: headers)
        let forwarded = WarmExchange.forwardedHead(request, body: .length(3), client: "127.0.0.1")
        #expect(forwarded.version == .http1_1)
        #expect(forwarded.uri == "/a?b=c")
        #expect(forwarded.headers["Host"] == ["container"])
        #expect(forwarded.headers["X-Forwarded-For"] == ["10.0.0.1, 127.0.0.1"])
        #expect(forwarded.headers["X-Forwarded-Proto"] == ["http"])
        let secure = WarmExchange.forwardedHead(request, body: .length(3), client: "127.0.0.1", scheme: "https")
        #expect(secure.headers["X-Forwarded-Proto"] == ["https"], "a TLS listener's requests are https, whatever the client says")
        #expect(forwarded.headers["X-Forwarded-Host"] == ["example.test"])
        #expect(forwarded.headers["X-Keep"] == ["yes"])
        #expect(forwarded.headers["Content-Length"] == ["3"])
        #expect(!WarmExchange.expectsContinue(request), "an HTTP/1.0 client does not wait for 100 Continue")
        #expect(WarmExchange.expectsContinue(HTTPRequestHead(version: .http1_1, method: .PUT, uri: "/", headers: ["Expect": "100-Continue"])))
        for dropped in ["Connection", "X-Secret", "Upgrade", "TE", "Expect"] {
            #expect(forwarded.headers[dropped].isEmpty, "\(dropped)")
        }
    }

    @Test("Connection tokens other than close and keep-alive are listed, lowercased")
    func connectionListed() {
        #expect(HopByHop.connectionListed(HTTPHeaders([("Connection", "keep-alive")])["connection"]).isEmpty)
        #expect(HopByHop.connectionListed(HTTPHeaders([("connection", " X-A ,close,\tx-b")])["connection"]) == ["x-a", "x-b"])
    }
}
