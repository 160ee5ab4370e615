import BerthRuntime
@testable import BerthServer
import BerthTestSupport
import Foundation
import Testing

/// WebSockets through Berth's gateway to the example container (its /ws echo), with a real
/// client (Debian's python3-websockets, scripts/ws-client.py), on both paths: the warm path
/// (the object's container is healthy) and the Worker's (a cold object).
@Suite("WebSockets through the gateway", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct WebSocketEngineTests {
    static func url(_ f: GatewayFixture, _ path: String) -> String { "ws://127.0.0.1:\(f.port)\(path)" }

    @Test("echo through the warm path and the Worker's: 1,000 messages in order, 1 MiB, bytes sent with the 101, the container's close, 200 sockets")
    func echo() async throws {
        try await GatewayFixture.with { f in
            // Warm: the object's container answers first (its /ws without a handshake is 426).
            #expect(try await f.request("/container/warm/ws").status == 426)
            let before = await f.upstreams.counts().forwarded
            let warm = try await WebSocketClient.run("echo", Self.url(f, "/container/warm/ws"), ["--count", "1000", "--size", "64"])
            #expect(warm.int("received") == 1000 && warm.bool("in_order") == true && warm.int("close_code") == 1000, "\(warm)")
            #expect(await f.upstreams.counts().forwarded == before + 1, "the handshake took the warm path; its messages are no requests")
            let cold = try await WebSocketClient.run("echo", Self.url(f, "/container/cold/ws"), ["--count", "1000", "--size", "64"])
            #expect(cold.int("received") == 1000 && cold.bool("in_order") == true, "\(cold)")
            #expect(await f.upstreams.counts().forwarded == before + 1, "a cold object's handshake goes through the Worker")

            for path in ["/container/warm/ws", "/container/cold2/ws"] {
                let big = try await WebSocketClient.run("big", Self.url(f, path), ["--size", "1048576"])
                #expect(big.bool("identical") == true, "\(path): \(big)")
                let greeted = try await WebSocketClient.run("hold", Self.url(f, path + "?greet=1"), ["--seconds", "1"])
                #expect(greeted.strings("messages").first?.hasPrefix("hello ") == true, "what came with the 101 went on: \(greeted)")
                let closed = try await WebSocketClient.run("hold", Self.url(f, path), ["--message", "close:4000", "--seconds", "5"])
                #expect(closed.string("closed_by") == "server" && closed.int("close_code") == 4000 && closed.string("close_reason") == "bye", "\(closed)")
            }
            let many = try await WebSocketClient.run("many", Self.url(f, "/container/warm/ws"), ["--sockets", "200", "--rounds", "5"])
            #expect(many.int("ok") == 200, "\(many)")

            // Every socket ended: their places and leases are given back.
            let controller = f.myContainer.getByName("/container/warm/ws")
            #expect(try await f.eventually(within: 5) { controller.sockets.count == 0 && f.myContainer.openSockets.current == 0 })
            #expect(try await f.eventually(within: 5) { await controller.snapshot().inFlight == 0 })
        }
    }

    @Test("a handshake the container refuses is passed on and the connection closes; other upgrades get 501")
    func refusals() async throws {
        try await GatewayFixture.with { f in
            for path in ["/container/r/ws", "/container/r/ws"] {  // cold, then warm
                let refused = try await WebSocketClient.run("handshake", Self.url(f, path), ["--header", "Sec-WebSocket-Version: 8"])
                #expect(refused.int("status") == 426, "\(refused)")
            }
            let plain = try await WebSocketClient.run("handshake", Self.url(f, "/container/r/plain"))
            #expect(plain.int("status") == 200, "a path without /ws answers as HTTP: \(plain)")
            let h2c = try await WebSocketClient.program("/usr/bin/curl", ["-s", "-i", "-H", "Connection: Upgrade, HTTP2-Settings", "-H", "Upgrade: h2c", "-H", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA", "http://127.0.0.1:\(f.port)/container/r/ws"])
            #expect(h2c.output.hasPrefix("HTTP/1.1 501"), "\(h2c.output)")
            #expect(h2c.output.contains("WebSocket upgrades only"))
            let post = try await WebSocketClient.program("/usr/bin/curl", ["-s", "-i", "-X", "POST", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "http://127.0.0.1:\(f.port)/container/r/ws"])
            #expect(post.output.hasPrefix("HTTP/1.1 400"), "\(post.output)")
        }
    }

    @Test("an open socket keeps its object awake; sleep_after counts from its close")
    func idleWaitsForOpenSocket() async throws {
        try await GatewayFixture.with(berth: #"{ "classes": { "MyContainer": { "sleep_after": "2s" } } }"#) { f in
            let controller = f.myContainer.getByName("/container/idle/ws")
            let held = WebSocketClient.start("hold", Self.url(f, "/container/idle/ws"), ["--seconds", "6"])
            #expect(try await f.eventually(within: 30) { controller.sockets.count == 1 })
            try await Task.sleep(for: .seconds(4))
            #expect(await controller.status == .healthy, "2 s of sleep_after passed twice while the socket was open")
            let reply = try await held.value
            #expect(reply.string("closed_by") == "timeout", "\(reply)")
            #expect(try await f.eventually(within: 10) { await controller.status != .healthy }, "stopped once the socket closed and sleep_after passed")
        }
    }

    @Test("websocket_activity frames: an idle stop closes the open sockets with 1001")
    func framesActivity() async throws {
        try await GatewayFixture.with(berth: #"{ "classes": { "MyContainer": { "sleep_after": "2s", "websocket_activity": "frames" } } }"#) { f in
            // Held for up to 60 s: closed by the server, the idle stop came (its 2 s after the
            // handshake, plus the stop) while the client sent nothing.
            let reply = try await WebSocketClient.run("hold", Self.url(f, "/container/frames/ws"), ["--seconds", "60"])
            #expect(reply.string("closed_by") == "server" && reply.int("close_code") == 1001, "\(reply)")
            #expect(reply.string("close_reason") == "the container is stopping")
        }
    }

    @Test("destroy() closes the object's sockets with 1001; the per-object limit refuses with 503")
    func destroyAndLimits() async throws {
        try await GatewayFixture.with(berth: #"{ "websockets": { "max_per_object": 2 } }"#) { f in
            let controller = f.myContainer.getByName("/container/d/ws")
            let first = WebSocketClient.start("hold", Self.url(f, "/container/d/ws"), ["--seconds", "30"])
            let second = WebSocketClient.start("hold", Self.url(f, "/container/d/ws"), ["--seconds", "30"])
            #expect(try await f.eventually(within: 30) { controller.sockets.count == 2 })
            let third = try await WebSocketClient.run("handshake", Self.url(f, "/container/d/ws"))
            #expect(third.int("status") == 503, "\(third)")
            #expect(third.string("body")?.contains("berth.websockets.max_per_object") == true, "\(third)")
            let snapshot = await controller.snapshot()
            #expect(snapshot.webSockets == 2)
            await controller.destroy()
            for held in [first, second] {
                let reply = try await held.value
                #expect(reply.string("closed_by") == "server" && reply.int("close_code") == 1001, "\(reply)")
            }
            #expect(try await f.eventually(within: 5) { controller.sockets.count == 0 })
        }
    }

    @Test("idle_timeout closes a silent socket with 1001; a message past max_message_bytes is 1009")
    func idleTimeoutAndSize() async throws {
        try await GatewayFixture.with(berth: #"{ "websockets": { "idle_timeout": "1s", "max_message_bytes": 1000 } }"#) { f in
            #expect(try await f.request("/container/t/ws").status == 426)
            let silent = try await WebSocketClient.run("hold", Self.url(f, "/container/t/ws"), ["--seconds", "20"])
            #expect(silent.string("closed_by") == "server" && silent.int("close_code") == 1001, "\(silent)")
            #expect(silent.string("close_reason")?.contains("idle_timeout") == true)
            do {
                _ = try await WebSocketClient.run("big", Self.url(f, "/container/t/ws"), ["--size", "4000"])
                Issue.record("a message of 4,000 bytes passed a limit of 1,000")
            } catch {
                #expect("\(error)".contains("1009"), "\(error)")
            }
            let small = try await WebSocketClient.run("echo", Self.url(f, "/container/t/ws"), ["--count", "5", "--size", "900"])
            #expect(small.int("received") == 5)
        }
    }
}

/// WebSockets through `berth serve`: a rollout and a delete close them with 1001, and /metrics and the
/// admin API count them.
@Suite("WebSockets through berth serve", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct WebSocketServeTests {
    /// `berth_websockets_open{class="MyContainer"}` once it is 1 (polled for up to 20 s), else its last value.
    static func openSockets(_ server: ServerProcess) async throws -> Double? {
        var value: Double?
        for _ in 0..<100 {
            let metrics = try PrometheusText(try await DashboardTests.send(server.adminURL + "/metrics").body)
            value = metrics.value("berth_websockets_open", ["class": "MyContainer"])
            if value == 1 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return value
    }

    @Test("a rollout and containers delete close the instance's sockets with 1001; the dashboard's API and /metrics count open sockets")
    func rollout() async throws {
        try await ServeTests.withProject("wsroll", message: "one") { project in
            let server = try await ServerProcess.start(folder: project.folder, arguments: ["--public-metrics"])
            defer { server.stop() }
            #expect(try await berth(["deploy", project.folder, "--containers-rollout", "immediate"]).status == 0)
            let url = "ws://127.0.0.1:\(server.gatewayPort)/container/roll/ws"
            let held = WebSocketClient.start("hold", url, ["--seconds", "60"])
            #expect(try await Self.openSockets(server) == 1, "berth_websockets_open counts the socket")
            let metrics = try PrometheusText(try await DashboardTests.send(server.adminURL + "/metrics").body)
            let series = metrics.samples.filter { $0.name == "berth_websockets_open_by_instance" }
            #expect(series.count == 1 && series.first?.value == 1, "\(series)")
            let instances = try await server.admin("/api/containers/MyContainer/instances", token: server.token)
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(instances.body.utf8)) as? [[String: Any]], "\(instances.body)")
            #expect(listed.compactMap { $0["websockets"] as? Int } == [1], "\(instances.body)")

            try ServeTests.setMessage(project, "two")
            let deploy = try await berth(["deploy", project.folder, "--containers-rollout", "immediate"])
            #expect(deploy.status == 0, "\(deploy.errors)")
            let reply = try await held.value
            #expect(reply.string("closed_by") == "server" && reply.int("close_code") == 1001, "\(reply)")
            #expect(reply.string("close_reason") == "the container is stopping")
            let again = try await WebSocketClient.run("echo", url, ["--count", "10", "--size", "16"])
            #expect(again.int("received") == 10, "the new instance serves WebSockets: \(again)")

            // `berth containers delete`: the open socket hears 1001 as its instance stops.
            let deleting = WebSocketClient.start("hold", url, ["--seconds", "60"])
            #expect(try await Self.openSockets(server) == 1)
            let deleted = try await berth(["containers", "delete", "web", "-y", "--project", project.folder])
            #expect(deleted.status == 0, "\(deleted.errors)")
            let gone = try await deleting.value
            #expect(gone.string("closed_by") == "server" && gone.int("close_code") == 1001, "\(gone)")
            #expect(gone.string("close_reason") == "the container is stopping")
            #expect(try await berth(["deploy", project.folder]).status == 0)

            // A graceful shutdown of the server: its clients hear 1001 too.
            let last = WebSocketClient.start("hold", url, ["--seconds", "60"])
            #expect(try await Self.openSockets(server) == 1)
            server.stop()
            let shutdown = try await last.value
            #expect(shutdown.string("closed_by") == "server" && shutdown.int("close_code") == 1001, "\(shutdown)")
            #expect(shutdown.string("close_reason") == "the server is shutting down")
        }
    }
}
