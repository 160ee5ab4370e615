import Berth
import BerthControlPlane
import BerthCore
import BerthServer
import BerthTestSupport
import BerthWorker
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

/// The template's Worker, plus the ways Worker code goes wrong.
struct LinkedWorker: Worker {
    func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
        switch request.pathname {
        case "/throw": throw BerthError(.invalidInput, "the Worker's own mistake")
        case "/slow":
            try await Task.sleep(for: .seconds(90))
            return .text("late\n")
        case "/echo": return Response(status: .ok, body: Body(try await request.body.collect(upTo: 1 << 20)))
        case "/stop":
            await env["MY_CONTAINER"].getByName(request.query("name") ?? "").stop()
            return .text("stopped\n")
        case "/shout":
            // Reads the container's answer (it crosses to the Worker) rather than returning it.
            let answer = await env["MY_CONTAINER"].getByName("/container/1").fetch(Request(path: "/"))
            return .text(try await answer.body.text().uppercased())
        default:
            // `/o/NAME/REST`: the object NAME gets `/REST`.
            if request.pathname.hasPrefix("/o/") {
                let parts = request.path.dropFirst(3).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
                var forwarded = request
                forwarded.head.path = "/" + (parts.count > 1 ? String(parts[1]) : "")
                return await env["MY_CONTAINER"].getByName(String(parts[0])).fetch(forwarded)
            }
            return try await TemplateWorker().fetch(request, env: env)
        }
    }
}

@Suite("A Worker over its link to the server", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct ProcessWorkerTests {
    @Test("requests cross a socket to the Worker; its stubs come back and reach the containers; its failures are HTTP errors")
    func linked() async throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        let (serverEnd, workerEnd) = (ends[0], ends[1])
        let process = Task { try await WorkerProcess.serve(LinkedWorker(), containers: [PlainContainer.self], descriptor: workerEnd) }
        defer { process.cancel() }
        let declared = Mutex<[String: ContainerProperties]>([:])
        try await GatewayFixture.with(makeWorker: { platform in
            let worker = try await ProcessWorker.connect(descriptor: serverEnd, logger: Logger(label: "berth.test"), deadline: .seconds(20))
            let classes = try await worker.start(serving: platform)
            declared.withLock { $0 = classes }
            return worker
        }) { f in
            // The Worker said which Container classes it has, with their properties.
            #expect(declared.withLock { $0 }["PlainContainer"]?.envVars["MESSAGE"] == "set by the Swift class")
            #expect(try await f.request("/").body == "Worker says hi\n")
            let one = try await f.request("/container/1")
            #expect(one.status == 200)
            #expect(one.body.contains("my instance ID is"), "\(one.body)")
            #expect(try await f.request("/state?name=/container/1").body == "healthy\n")
            // A container's body the Worker returns untouched stays in the server; one it
            // reads crosses to it.
            let shouted = try await f.request("/shout")
            #expect(shouted.status == 200 && shouted.body.hasPrefix("HI, I'M A CONTAINER"), "\(shouted.body)")
            let bad = try await f.request("/id?hex=nope")
            #expect(bad.status == 400)
            // A request body crosses to the Worker and its response body back.
            let echoed = try await f.request("/echo", method: "POST", body: ByteBuffer(string: String(repeating: "x", count: 100_000)))
            #expect(echoed.body.count == 100_000)
            // Worker code that throws, uses a missing binding, or takes too long: HTTP errors.
            let thrown = try await f.request("/throw")
            #expect(thrown.status == 500)
            #expect(thrown.body.contains("the Worker's own mistake") && thrown.body.contains("request "), "\(thrown.body)")
            let typo = try await f.request("/typo")
            #expect(typo.status == 500)
            #expect(typo.body.contains("MY_CONTAINR"), "\(typo.body)")
            let slow = try await f.request("/slow")
            #expect(slow.status == 504)
            #expect(slow.body.contains("did not answer within 20s"), "\(slow.body)")
            // A container's WebSocket the Worker returns from stub.fetch stays in the server,
            // which relays it frame by frame.
            let echo = try await WebSocketClient.run("echo", "ws://127.0.0.1:\(f.port)/container/ws", ["--count", "50", "--size", "32"])
            #expect(echo.int("received") == 50 && echo.bool("in_order") == true, "\(echo)")
            // The link after all that still serves.
            #expect(try await f.request("/container/1").status == 200)
        }
    }

    @Test("requests to a healthy container go from the Worker process straight to it under a standing lease, by the same rules; stops and idleness take the lease back first")
    func standingLeases() async throws {
        let berth = #"{ "classes": { "MyContainer": { "env_vars": { "MESSAGE": "from the test" }, "sleep_after": "3s" } } }"#
        try await Self.linked(LinkedWorker(), berth: berth) { f, worker in
            // The first request starts the container through the server, which grants a lease.
            #expect(try await f.request("/o/a/").status == 200)
            #expect(worker.leasesHeld == 1)
            let before = worker.directRequests
            for _ in 0..<20 {
                let reply = try await f.request("/o/a/")
                #expect(reply.status == 200 && reply.body.contains("my instance ID is"), "\(reply.body)")
            }
            #expect(worker.directRequests - before == 20, "every request after the first went straight to the container")

            // The forwarding policy holds on the direct path: the container's Host, the
            // forwarded headers (a client's own X-Forwarded-Proto dropped), hop-by-hop and
            // Connection-listed headers dropped.
            let seen = try await f.request("/o/a/headers", headers: [("X-Forwarded-Proto", "evil"), ("Connection", "x-private"), ("X-Private", "1")])
            let head = seen.body.lowercased()
            #expect(head.contains("host: container\r\n"), "\(seen.body)")
            #expect(head.contains("x-forwarded-for: 127.0.0.1") && head.contains("x-forwarded-proto: http\r\n"), "\(seen.body)")
            #expect(!head.contains("evil") && !head.contains("x-private"), "\(seen.body)")
            // Bodies both ways, a large response read with back-pressure.
            let echoed = try await f.request("/o/a/", method: "POST", body: ByteBuffer(string: String(repeating: "y", count: 200_000)))
            #expect(echoed.status == 200 && echoed.bytes.readableBytes == 200_000)
            let large = try await f.request("/o/a/bytes/3000000")
            #expect(large.status == 200 && large.bytes.readableBytes == 3_000_000)
            #expect(worker.directRequests - before == 23)

            // A stop takes the lease back before the container stops; requests sent meanwhile
            // all succeed (the later ones start it again through the server).
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        var statuses: [Int] = []
                        for _ in 0..<30 { statuses.append(try await f.request("/o/a/").status) }
                        return statuses
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(100))
                    #expect(try await f.request("/stop?name=a").body == "stopped\n")
                    return []
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(statuses.count == 90 && statuses.allSatisfy { $0 == 200 }, "\(statuses.filter { $0 != 200 })")
            // (A stop with requests waiting returns once the object is next stopped: here, when
            // the container those requests started goes idle.)
            #expect(try await f.request("/o/a/").status == 200)
            #expect(worker.leasesHeld == 1)
            #expect(try await f.request("/stop?name=a").body == "stopped\n")
            #expect(worker.leasesHeld == 0, "the stop took the lease back before it returned")

            // A request in flight under the lease holds the container awake past sleep_after;
            // once nothing comes, the idle stop takes the lease back and stops it.
            #expect(try await f.request("/o/b/").status == 200)
            #expect(try await f.request("/state?name=b").body == "healthy\n")
            let b = WireObject(className: "MyContainer", id: f.myContainer.idFromName("b"))
            #expect(!worker.hasInFlight(b))
            let slowRequest = Task { try await f.request("/o/b/sleep/5") }
            var holding = false
            for _ in 0..<40 where !holding {
                try await Task.sleep(for: .milliseconds(50))
                holding = worker.hasInFlight(b)
            }
            #expect(holding, "a request under the lease is the object's request in flight: its hooks stay with this Worker version")
            let slow = try await slowRequest.value
            #expect(slow.status == 200, "\(slow.body)")
            #expect(!worker.hasInFlight(b))
            #expect(try await f.request("/state?name=b").body == "healthy\n", "a direct request in flight counts as activity")
            var state = ""
            for _ in 0..<40 where state != "stopped\n" {
                try await Task.sleep(for: .milliseconds(250))
                state = try await f.request("/state?name=b").body
            }
            #expect(state == "stopped\n", "idle after sleep_after")
            #expect(try await f.request("/o/b/").status == 200, "and it starts again through the server")
        }
    }

    /// `worker` served over a link to the gateway, as a deployed Worker runs.
    static func linked(
        _ worker: some Worker, berth: String? = nil, _ body: @escaping @Sendable (GatewayFixture, ProcessWorker) async throws -> Void
    ) async throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        let (serverEnd, workerEnd) = (ends[0], ends[1])
        let process = Task { try await WorkerProcess.serve(worker, containers: [PlainContainer.self], descriptor: workerEnd) }
        defer { process.cancel() }
        let made = Mutex<ProcessWorker?>(nil)
        let makeWorker: @Sendable (Platform) async throws -> any Worker = { platform in
            let linked = try await ProcessWorker.connect(descriptor: serverEnd, logger: Logger(label: "berth.test"), deadline: .seconds(30))
            _ = try await linked.start(serving: platform)
            made.withLock { $0 = linked }
            return linked
        }
        if let berth {
            try await GatewayFixture.with(berth: berth, makeWorker: makeWorker) { f in try await body(f, try #require(made.withLock { $0 })) }
        } else {
            try await GatewayFixture.with(makeWorker: makeWorker) { f in try await body(f, try #require(made.withLock { $0 })) }
        }
    }

    @Test("a WebSocketPair a Worker process answers with, and containers' sockets it reads itself, cross the link as messages")
    func webSockets() async throws {
        try await Self.linked(EchoWorker()) { f, _ in
            let url = "ws://127.0.0.1:\(f.port)/echo"
            let reply = try await WebSocketClient.run("hold", url, ["--message", "hi", "--seconds", "3"])
            #expect(reply.strings("messages") == ["echo: hi"], "\(reply)")
            let big = try await WebSocketClient.run("big", url, ["--size", "1048576"])
            #expect(big.bool("identical") == true, "binary comes back as it went: \(big)")
        }
        try await Self.linked(FanOutWorker()) { f, _ in try await WebSocketWorkerTests.checkFanOut(f) }
    }
}
