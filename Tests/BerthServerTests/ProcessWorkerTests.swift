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
        case "/shout":
            // Reads the container's answer (it crosses to the Worker) rather than returning it.
            let answer = await env["MY_CONTAINER"].getByName("/container/1").fetch(Request(path: "/"))
            return .text(try await answer.body.text().uppercased())
        default: return try await TemplateWorker().fetch(request, env: env)
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
}
