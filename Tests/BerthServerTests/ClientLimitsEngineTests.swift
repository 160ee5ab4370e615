import BerthAPI
@testable import BerthControlPlane
import BerthRuntime
@testable import BerthServer
import Foundation
import NIOCore
import Testing

/// `berth.limits` on the gateway, against the real engine: hostile and slow clients through
/// both paths (the warm path to a healthy container, the Worker's proxy for a cold one).
@Suite("Client limits on the real engine", .enabled(if: Engine.enabled))
struct ClientLimitsEngineTests {
    static func berth(_ limits: String, sleepAfter: String = "2s") -> String {
        #"{ "classes": { "MyContainer": { "sleep_after": "\#(sleepAfter)" } }, "limits": { \#(limits) } }"#
    }

    @Test("stalled uploads on both paths end after body_idle_timeout; their containers sleep and free their max_instances slots")
    func stalledUploads() async throws {
        try await GatewayFixture.with(maxInstances: 2, berth: Self.berth(#""body_idle_timeout": "2s""#)) { f in
            // The warm path: the object is started first, so the upload is forwarded on the event loop.
            #expect(try await f.request("/container/warm").status == 200)
            let warm = try RawHTTP(port: f.port)
            try warm.send("POST /container/warm HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhello")
            // The Worker's path: a cold object, started by this very request.
            let cold = try RawHTTP(port: f.port)
            try cold.send("POST /container/cold HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhello")

            for client in [warm, cold] {
                let reply = try client.readResponse()
                #expect(reply.status == 408)
                #expect(reply.text.contains("body_idle_timeout"))
                #expect(try client.isClosedByServer())
            }
            for name in ["/container/warm", "/container/cold"] {
                let controller = f.myContainer.getByName(name)
                #expect(try await f.eventually(within: 30) { await controller.snapshot().inFlight == 0 }, "\(name) still has a request")
                #expect(try await f.eventually(within: 30) { await controller.status == .stopped }, "\(name) is kept awake")
            }
            // Both slots of max_instances are free again.
            #expect(try await f.request("/container/third").status == 200)
            #expect(try await f.request("/container/fourth").status == 200)
        }
    }

    @Test("a slow head gets 408 after header_timeout; an idle connection closes after keepalive_timeout")
    func headAndKeepalive() async throws {
        try await GatewayFixture.with(berth: Self.berth(#""header_timeout": "1s", "keepalive_timeout": "1s""#)) { f in
            let slow = try RawHTTP(port: f.port)
            try slow.send("GET /container/a HTTP/1.1\r\nHost: x\r\n")
            for _ in 0..<4 {
                try await Task.sleep(for: .milliseconds(300))
                try? slow.send("X-Slow: 1\r\n")
            }
            let reply = try slow.readResponse()
            #expect(reply.status == 408)
            #expect(reply.text.contains("header_timeout"))
            #expect(try slow.isClosedByServer())

            #expect(try await f.request("/singleton").status == 200)
            let idle = try RawHTTP(port: f.port)
            try idle.send("GET /singleton HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try idle.readResponse().status == 200)
            #expect(try idle.isClosedByServer(), "closed after keepalive_timeout, without a response")
        }
    }

    @Test("one connection past max_connections gets 503; those open keep working")
    func maxConnections() async throws {
        try await GatewayFixture.with(berth: Self.berth(#""max_connections": 3"#)) { f in
            #expect(try await f.request("/singleton").status == 200)
            // Connections are opened until one is refused: the fixture's own clients may hold
            // some of the three, so the refusal comes at the fourth at the latest.
            var open: [RawHTTP] = []
            var refused: RawHTTP.Response?
            for _ in 0..<5 {
                let client = try RawHTTP(port: f.port)
                if client.isReadable(within: 300) {
                    refused = try client.readResponse()
                    break
                }
                open.append(client)
            }
            let refusal = try #require(refused, "no connection was refused")
            #expect((1...3).contains(open.count), "\(open.count) connections were let in")
            #expect(refusal.status == 503)
            #expect(refusal.header("retry-after") == "1")
            #expect(refusal.text.contains("max_connections"))
            for client in open {
                try client.send("GET /singleton HTTP/1.1\r\nHost: x\r\n\r\n")
                let reply = try client.readResponse()
                #expect(reply.status == 200, "\(reply.statusLine) \(reply.text)")
            }
            open[0].hangUp()
            try await Task.sleep(for: .milliseconds(200))
            let next = try RawHTTP(port: f.port)
            try next.send("GET /singleton HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try next.readResponse().status == 200, "a closed connection makes room")
            let over = try RawHTTP(port: f.port)
            #expect(try over.readResponse().status == 503, "for one")
        }
    }

    @Test("a head past max_header_bytes gets 431")
    func headerTooLarge() async throws {
        try await GatewayFixture.with(berth: Self.berth(#""max_header_bytes": 4096"#)) { f in
            let client = try RawHTTP(port: f.port)
            try client.send("GET /singleton HTTP/1.1\r\nHost: x\r\nCookie: \(String(repeating: "c", count: 5000))\r\n\r\n")
            let reply = try client.readResponse()
            #expect(reply.status == 431)
            #expect(reply.text.contains("max_header_bytes"))
            #expect(try client.isClosedByServer())
            let fits = try await f.request("/singleton", headers: [("Cookie", String(repeating: "c", count: 3000))])
            #expect(fits.status == 200)
        }
    }

    @Test("a container silent past response_timeout: 504 on both paths before the head, a cut after it")
    func responseTimeout() async throws {
        try await GatewayFixture.with(berth: Self.berth(#""response_timeout": "2s""#, sleepAfter: "10m")) { f in
            // The object is named by the path; the container reads `/sleep/N` and `/pause/N`
            // from the query too, so every request below goes to one object.
            // The Worker's path: the object is cold, its first request is proxied by the Worker.
            let cold = try await f.request("/container/slow?/sleep/6")
            #expect(cold.status == 504)
            #expect(cold.body.contains("response_timeout"))
            #expect(cold.body == "the container did not answer within berth.limits.response_timeout (2s)\n", "both paths say the same")
            // The warm path.
            let warm = try await f.request("/container/slow?/sleep/6")
            #expect(warm.status == 504)
            #expect(warm.body == "the container did not answer within berth.limits.response_timeout (2s)\n")
            // Silence after the head, on both paths: the response is cut, never passed off as whole.
            for path in ["/container/slow?/pause/6", "/container/other?/pause/6"] {
                let client = try RawHTTP(port: f.port)
                try client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(throws: RawHTTPError.self, "\(path)") { try client.readResponse() }
            }
            for name in ["/container/slow", "/container/other"] {
                let controller = f.myContainer.getByName(name)
                #expect(await controller.status == .healthy)
                #expect(try await f.eventually(within: 20) { await controller.snapshot().inFlight == 0 })
            }
            // Within the limit, a slow answer comes through.
            #expect(try await f.request("/container/slow?/sleep/1").status == 200)
        }
    }

    @Test("a slow reader of a large warm response; the connection goes back to the pool and is reused")
    func slowReaderThenReuse() async throws {
        try await GatewayFixture.with { f in
            #expect(try await f.request("/singleton").status == 200)
            let client = try RawHTTP(port: f.port)
            let size = 48 << 20
            try client.send("GET /singleton/bytes/\(size) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse(head: true).status == 200)
            // Read in pieces with pauses, so the client's connection fills and the container's
            // reads are switched off and on many times.
            var read = 0
            while read < size {
                let taken = try client.readSome(min(4 << 20, size - read))
                if taken == 0 { break }
                read += taken
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(read == size, "the whole response arrived")
            let before = await f.upstreams.counts()
            for _ in 0..<5 {
                try client.send("GET /singleton HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().status == 200)
            }
            let after = await f.upstreams.counts()
            #expect(after.forwarded - before.forwarded == 5)
            #expect(after.opened == before.opened, "the big response's container connection was reused")
            let controller = f.myContainer.getByName("cf-singleton-container")
            #expect(await controller.snapshot().inFlight == 0)
        }
    }
}
