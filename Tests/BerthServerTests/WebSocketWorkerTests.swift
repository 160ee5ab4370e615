// README-WEBSOCKETS-BEGIN
import Berth

/// Relays a WebSocket handshake to the object of its path: the container's 101 goes back to
/// the client, and Berth relays the socket frame by frame.
struct PassThroughWorker: Worker {
    func fetch(_ request: Request, env: Env) async throws -> Response {
        await env["MY_CONTAINER"].getByName(request.pathname).fetch(request)
    }
}

/// Answers the client's WebSocket itself (`WebSocketPair`), without a container.
struct EchoWorker: Worker {
    func fetch(_ request: Request, env: Env) async throws -> Response {
        guard request.isWebSocketUpgrade else { return .text("expected a WebSocket\n", status: .upgradeRequired) }
        let pair = WebSocketPair()
        let socket = pair.server
        Task {
            for try await message in socket.messages {
                if case .text(let text) = message { try await socket.send("echo: \(text)") } else { try await socket.send(message) }
            }
        }
        return Response(webSocket: pair.client)
    }
}

/// Accepts the client's WebSocket and spreads its messages over two objects, each with a
/// socket of its own to its container: every message goes to the next object in turn, and
/// that object's reply comes back to the client.
struct FanOutWorker: Worker {
    func fetch(_ request: Request, env: Env) async throws -> Response {
        guard request.isWebSocketUpgrade else { return .text("expected a WebSocket\n", status: .upgradeRequired) }
        var upstreams: [WebSocket] = []
        for name in ["fan-a", "fan-b"] {
            let answer = await env["MY_CONTAINER"].getByName(name).fetch(request)
            guard let socket = answer.webSocket else { return answer }
            try socket.accept()
            upstreams.append(socket)
        }
        let pair = WebSocketPair()
        let client = pair.server
        Task {
            var replies = upstreams.map { $0.messages.makeAsyncIterator() }
            var turn = 0
            for try await message in client.messages {
                try await upstreams[turn].send(message)
                if let reply = try await replies[turn].next() { try await client.send(reply) }
                turn = (turn + 1) % upstreams.count
            }
            for upstream in upstreams { await upstream.close() }
        }
        return Response(webSocket: pair.client)
    }
}
// README-WEBSOCKETS-END

import BerthTestSupport
import Foundation
import Testing

@Suite("The README's WebSocket Workers", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct WebSocketWorkerTests {
    @Test("a Worker passes a handshake to stub.fetch and returns the container's 101")
    func passThrough() async throws {
        try await GatewayFixture.with(worker: PassThroughWorker()) { f in
            let url = "ws://127.0.0.1:\(f.port)/chat/ws"
            let echo = try await WebSocketClient.run("echo", url, ["--count", "200", "--size", "32"])
            #expect(echo.int("received") == 200 && echo.bool("in_order") == true, "\(echo)")
            let big = try await WebSocketClient.run("big", url, ["--size", "1048576"])
            #expect(big.bool("identical") == true)
            #expect(try await f.eventually(within: 5) { f.myContainer.getByName("/chat/ws").sockets.count == 0 })
        }
    }

    @Test("a WebSocketPair: the Worker answers the client's messages itself")
    func pair() async throws {
        try await GatewayFixture.with(worker: EchoWorker()) { f in
            let url = "ws://127.0.0.1:\(f.port)/echo"
            let reply = try await WebSocketClient.run("hold", url, ["--message", "hi", "--seconds", "3"])
            #expect(reply.strings("messages") == ["echo: hi"], "\(reply)")
            let big = try await WebSocketClient.run("big", url, ["--size", "1048576"])
            #expect(big.bool("identical") == true, "binary comes back as it went: \(big)")
            let refused = try await WebSocketClient.run("handshake", "ws://127.0.0.1:\(f.port)/echo", ["--header", "Upgrade:"])
            #expect(refused.int("status") == 426, "\(refused)")
        }
    }

    @Test("a Worker relays one client's messages to two objects' containers in turn")
    func fanOut() async throws {
        try await GatewayFixture.with(worker: FanOutWorker()) { f in
            try await Self.checkFanOut(f)
            let a = f.myContainer.getByName("fan-a"), b = f.myContainer.getByName("fan-b")
            let (first, second) = (await a.instanceID, await b.instanceID)
            #expect(first != nil && second != nil, "both objects' containers serve")
            #expect(first != second)
        }
    }

    /// ``FanOutWorker`` behind `f`: a message reaches a container, twenty come back in order,
    /// and the Worker closes its sockets to the containers once the client is gone.
    static func checkFanOut(_ f: GatewayFixture) async throws {
        let url = "ws://127.0.0.1:\(f.port)/fan/ws"
        let reply = try await WebSocketClient.run("hold", url, ["--message", "whoami", "--seconds", "1"])
        #expect(reply.strings("messages").first?.hasPrefix("instance ") == true, "\(reply)")
        let echo = try await WebSocketClient.run("echo", url, ["--count", "20", "--size", "16"])
        #expect(echo.int("received") == 20 && echo.bool("in_order") == true, "\(echo)")
        let a = f.myContainer.getByName("fan-a"), b = f.myContainer.getByName("fan-b")
        #expect(try await f.eventually(within: 5) { a.sockets.count == 0 && b.sockets.count == 0 }, "the Worker closed its sockets")
    }
}

@Suite("The README shows the WebSocket Workers the tests run")
struct WebSocketReadmeTests {
    @Test("the README's WebSocket Workers are the ones above, word for word")
    func sameCode() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// README-WEBSOCKETS-BEGIN\nimport Berth\n\n"))
        let end = try #require(source.range(of: "// README-WEBSOCKETS-END"))
        let code = String(source[begin.upperBound..<end.lowerBound])
        let readme = try String(contentsOfFile: ExampleServer.repository.appendingPathComponent("README.md").path, encoding: .utf8)
        #expect(readme.contains("```swift\n" + code + "```"), "README.md's WebSocket example differs from WebSocketWorkerTests.swift")
    }
}

/// A Swift Container class that counts frames, not open sockets.
struct FramesContainer: Container {
    static let defaultPort: Int? = 8080
    static let sleepAfter: Duration = .seconds(2)
    static let webSocketActivity = WebSocketActivity.frames
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }
}

@Suite("A Container class's webSocketActivity", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct WebSocketActivityClassTests {
    @Test("webSocketActivity = .frames: a silent open socket does not keep the object awake")
    func frames() async throws {
        try await GatewayFixture.with(worker: PassThroughWorker(), containerTypes: ["MyContainer": FramesContainer.self]) { f in
            let reply = try await WebSocketClient.run("hold", "ws://127.0.0.1:\(f.port)/class/ws", ["--seconds", "30"])
            #expect(reply.string("closed_by") == "server" && reply.int("close_code") == 1001, "\(reply)")
        }
    }
}
