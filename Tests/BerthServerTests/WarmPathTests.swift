import BerthAPI
@testable import BerthControlPlane
import BerthRuntime
@testable import BerthServer
import Foundation
import NIOCore
import Testing

/// The gateway's warm path: requests to a healthy container forwarded on the event loop,
/// against the real engine. Every test starts the object with a first (cold) request, which
/// the Worker serves, and then checks what the warm path does with the next ones.
@Suite("The warm path on the real engine", .enabled(if: Engine.enabled))
struct WarmPathTests {
    @Test("warm requests reuse container connections; heads, bodies and HEAD come through intact")
    func forwarding() async throws {
        try await GatewayFixture.with { f in
            let cold = try await f.request("/singleton")
            #expect(cold.status == 200)
            let before = await f.upstreams.counts()

            var instances = Set<String>()
            for _ in 0..<20 {
                let reply = try await f.request("/singleton")
                #expect(reply.status == 200)
                instances.insert(reply.body)
            }
            #expect(instances.count == 1, "every warm request reaches the same instance")

            let head = try await f.request(
                "/singleton/headers?x=1", headers: [("Connection", "x-drop-me"), ("X-Drop-Me", "1"), ("X-Keep", "2"), ("X-Forwarded-For", "10.0.0.1")]
            )
            #expect(head.body.hasPrefix("GET /singleton/headers?x=1 HTTP/1.1\r\n"))
            #expect(head.body.contains("Host: container\r\n"))
            #expect(head.body.contains("X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"))
            #expect(head.body.contains("X-Forwarded-Proto: http\r\n"))
            #expect(head.body.contains("X-Forwarded-Host: 127.0.0.1:\(f.port)\r\n"))
            #expect(head.body.contains("X-Keep: 2\r\n"))
            #expect(!head.body.lowercased().contains("x-drop-me"))

            var payload = ByteBuffer()
            for i in 0..<(5 << 20) / 8 { payload.writeInteger(UInt64(i)) }
            let echo = try await f.request("/singleton/echo", method: "POST", body: payload)
            #expect(echo.status == 200)
            let identical = echo.bytes == payload
            #expect(identical, "the echoed body differs from what was sent")

            let big = try await f.request("/singleton/bytes/1048576")
            #expect(big.status == 200)
            #expect(big.bytes.readableBytes == 1 << 20)
            #expect(big.bytes.readableBytesView.allSatisfy { $0 == UInt8(ascii: "x") })

            let headOnly = try await f.request("/singleton", method: "HEAD")
            #expect(headOnly.status == 200)
            #expect(headOnly.bytes.readableBytes == 0)
            #expect(headOnly.header("content-length").flatMap(Int.init).map { $0 > 0 } == true)

            let after = await f.upstreams.counts()
            #expect(after.forwarded - before.forwarded == 24, "all requests after the first took the warm path")
            #expect(after.opened - before.opened < 12, "container connections are kept alive and reused")
            let controller = f.myContainer.getByName("cf-singleton-container")
            #expect(await controller.snapshot().inFlight == 0)
        }
    }

    @Test("pipelined requests are answered in order across the warm path and the Worker")
    func pipelining() async throws {
        try await GatewayFixture.with { f in
            #expect(try await f.request("/singleton").status == 200)
            let connection = try RawHTTP(port: f.port)
            try connection.send(
                "GET /singleton/headers HTTP/1.1\r\nHost: a\r\n\r\n"
                    + "GET /nowhere HTTP/1.1\r\nHost: b\r\n\r\n"
                    + "GET /singleton/bytes/300000 HTTP/1.1\r\nHost: c\r\n\r\n"
                    + "GET / HTTP/1.1\r\nHost: d\r\n\r\n"
                    + "GET /singleton/headers HTTP/1.1\r\nHost: e\r\n\r\n"
            )
            let first = try connection.readResponse()
            #expect(first.status == 200)
            #expect(first.text.contains("X-Forwarded-Host: a\r\n"))
            let second = try connection.readResponse()
            #expect(second.status == 404)
            #expect(second.text.hasPrefix("No route for /nowhere"))
            let third = try connection.readResponse()
            #expect(third.body.count == 300_000)
            let fourth = try connection.readResponse()
            #expect(fourth.status == 200)
            #expect(fourth.text.hasPrefix("Berth is serving"))
            let fifth = try connection.readResponse()
            #expect(fifth.text.contains("X-Forwarded-Host: e\r\n"))
        }
    }

    @Test("Expect: 100-continue gets its go-ahead from the gateway before the body is sent")
    func expectContinue() async throws {
        try await GatewayFixture.with { f in
            #expect(try await f.request("/singleton").status == 200)
            let connection = try RawHTTP(port: f.port, readTimeout: 5)
            try connection.send("POST /singleton/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = try connection.readResponse(head: true)
            #expect(interim.status == 100)
            try connection.send("hello")
            let reply = try connection.readResponse()
            #expect(reply.status == 200)
            #expect(reply.text == "hello")
        }
    }

    @Test("bytes that are not HTTP after a warm request: its response arrives whole, then Berth's 400, then the connection closes")
    func garbageAfterRequest() async throws {
        try await GatewayFixture.with { f in
            #expect(try await f.request("/singleton").status == 200)
            let connection = try RawHTTP(port: f.port, readTimeout: 10)
            try connection.send("GET /singleton/bytes/300000 HTTP/1.1\r\nHost: x\r\n\r\n\u{1}\u{2} not http \r\n\r\n")
            let reply = try connection.readResponse()
            #expect(reply.status == 200)
            #expect(reply.body.count == 300_000)
            #expect(reply.body.allSatisfy { $0 == UInt8(ascii: "x") }, "nothing else is written into the response")
            let refusal = try connection.readResponse()
            #expect(refusal.status == 400)
            #expect(refusal.text.hasPrefix("the request was refused: its method is not one this server knows"))
            #expect(try connection.isClosedByServer())
        }
    }

    @Test("HTTP/1.0 and Connection: close end the client's connection after the response")
    func connectionClose() async throws {
        try await GatewayFixture.with { f in
            #expect(try await f.request("/singleton").status == 200)

            let old = try RawHTTP(port: f.port)
            try old.send("GET /singleton HTTP/1.0\r\n\r\n")
            let reply = try old.readResponse()
            #expect(reply.statusLine.hasPrefix("HTTP/1.0 200"))
            #expect(reply.text.hasPrefix("Hi, I'm a container"))
            #expect(try old.isClosedByServer())

            let keepAlive10 = try RawHTTP(port: f.port)
            try keepAlive10.send("GET /singleton HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /singleton HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            for _ in 0..<2 {
                let reply = try keepAlive10.readResponse()
                #expect(reply.header("connection")?.lowercased() == "keep-alive")
                #expect(reply.text.hasPrefix("Hi, I'm a container"))
            }

            let closing = try RawHTTP(port: f.port)
            try closing.send("GET /singleton HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let last = try closing.readResponse()
            #expect(last.status == 200)
            #expect(last.header("connection")?.lowercased() == "close")
            #expect(try closing.isClosedByServer())
        }
    }

    @Test("a client that leaves mid-response releases its lease; a container that dies mid-request gives 502")
    func failures() async throws {
        try await GatewayFixture.with(berth: #"{ "classes": { "MyContainer": { "sleep_after": "2s" } } }"#) { f in
            let controller = f.myContainer.getByName("cf-singleton-container")
            let first = try await f.request("/singleton")
            #expect(first.status == 200)

            // 200 MiB, of which the client reads 1 MiB and hangs up.
            let leaving = try RawHTTP(port: f.port)
            try leaving.send("GET /singleton/bytes/209715200 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try leaving.readSome(1 << 20) == 1 << 20)
            #expect(await controller.snapshot().inFlight == 1)
            leaving.hangUp()
            #expect(try await f.eventually(within: 10) { await controller.snapshot().inFlight == 0 })
            // With nothing in flight, sleepAfter stops it: the lease really was given back.
            #expect(try await f.eventually(within: 15) { await controller.status == .stopped })

            // A warm container that exits while answering: the warm path says why, with 502.
            let again = try await f.request("/singleton")
            #expect(again.status == 200)
            #expect(await controller.status == .healthy)
            let crash = try await f.request("/singleton/error")
            #expect(crash.status == 502)
            #expect(crash.body.hasPrefix("the container did not answer"))
            #expect(try await f.eventually(within: 10) { await controller.status == .stoppedWithCode(1) })
            let restarted = try await f.request("/singleton")
            #expect(restarted.status == 200)
            #expect(restarted.body != again.body, "a new instance answers")
        }
    }

    @Test("SIGTERM lets a warm response in flight finish, then closes its connection")
    func gracefulShutdown() async throws {
        try await ServeTests.withProject("drain", message: "drain") { project in
            let server = try await ServerProcess.start(folder: project.folder)
            defer { server.stop() }
            let deploy = try await berth(["deploy", project.folder])
            #expect(deploy.status == 0, "\(deploy.errors)")
            #expect(try await server.get("/singleton").status == 200)

            let size = 64 << 20
            let download = try RawHTTP(port: server.gatewayPort)
            try download.send("GET /singleton/bytes/\(size) HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try download.readResponse(head: true)
            #expect(head.header("content-length") == "\(size)")
            #expect(try download.readSome(1 << 20) == 1 << 20)
            server.process.terminate()
            #expect(try download.readSome(size - (1 << 20)) == size - (1 << 20), "the whole body arrives after SIGTERM")
            #expect(try download.isClosedByServer())
            server.stop()
            #expect(server.process.terminationStatus == 0)
        }
    }
}
