import BerthConfig
import BerthCore
@testable import BerthRuntime
import NIOHTTP1
import Testing

@Suite("Protocol switches: what is proxied, what is refused")
struct UpgradeRulesTests {
    func upgrade(_ headers: [(String, String)]) -> ForwardingPolicy.UpgradeRequest {
        ForwardingPolicy.upgrade(in: headers.map { (name: $0.0, value: $0.1) })
    }

    @Test("an upgrade needs both Upgrade and the upgrade token in Connection, as the parser sees it")
    func classification() {
        #expect(upgrade([("Upgrade", "websocket"), ("Connection", "Upgrade")]) == .webSocket)
        #expect(upgrade([("upgrade", "WebSocket"), ("connection", "keep-alive, upgrade")]) == .webSocket)
        #expect(upgrade([("Upgrade", "websocket")]) == .none, "an Upgrade its Connection does not list is a dropped hop-by-hop header")
        #expect(upgrade([("Connection", "Upgrade")]) == .none)
        #expect(upgrade([("Upgrade", "h2c"), ("Connection", "Upgrade, HTTP2-Settings")]) == .other("h2c"))
        #expect(upgrade([("Host", "x")]) == .none)
    }

    @Test("only a GET HTTP/1.1 handshake without body is switched; other protocols get 501")
    func refusals() {
        #expect(ForwardingPolicy.upgradeRefusal(.webSocket, method: "GET", version: (1, 1), hasBody: false) == nil)
        #expect(ForwardingPolicy.upgradeRefusal(.webSocket, method: "POST", version: (1, 1), hasBody: false)?.code.httpStatus == 400)
        #expect(ForwardingPolicy.upgradeRefusal(.webSocket, method: "GET", version: (1, 0), hasBody: false)?.code.httpStatus == 400)
        #expect(ForwardingPolicy.upgradeRefusal(.webSocket, method: "GET", version: (1, 1), hasBody: true)?.code.httpStatus == 400)
        let h2c = ForwardingPolicy.upgradeRefusal(.other("h2c"), method: "GET", version: (1, 1), hasBody: false)
        #expect(h2c?.code.httpStatus == 501)
        #expect(h2c?.message.contains("h2c") == true)
        #expect(ForwardingPolicy.upgradeRefusal(.none, method: "POST", version: (1, 0), hasBody: true) == nil)
    }

    @Test("the container gets the handshake with Connection and Upgrade of Berth's and the client's Sec-WebSocket fields")
    func forwardedHandshake() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "example.test")
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==")
        headers.add(name: "Sec-WebSocket-Version", value: "13")
        headers.add(name: "cf-container-target-port", value: "9999")
        let head = ForwardingPolicy.webSocketHead(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/chat/ws", headers: headers), client: "10.0.0.1", scheme: "https")
        #expect(head.headers["Host"] == ["container"])
        #expect(head.headers["X-Forwarded-Host"] == ["example.test"])
        #expect(head.headers["X-Forwarded-Proto"] == ["https"])
        #expect(head.headers["Connection"] == ["Upgrade"])
        #expect(head.headers["Upgrade"] == ["websocket"])
        #expect(head.headers["Sec-WebSocket-Key"] == ["dGhlIHNhbXBsZSBub25jZQ=="])
        #expect(head.headers["cf-container-target-port"].isEmpty)
        #expect(head.headers["Content-Length"].isEmpty)

        var response = HTTPHeaders()
        response.add(name: "Upgrade", value: "websocket")
        response.add(name: "Connection", value: "Upgrade, X-Secret")
        response.add(name: "X-Secret", value: "hop")
        response.add(name: "Sec-WebSocket-Accept", value: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let client = ForwardingPolicy.webSocketResponseHeaders(response)
        #expect(client["Sec-WebSocket-Accept"] == ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])
        #expect(client["X-Secret"].isEmpty)
        #expect(client["Connection"] == ["Upgrade"] && client["Upgrade"] == ["websocket"])
    }

    @Test("open sockets are counted per object and per class, and a full object or class refuses with 503")
    func limits() throws {
        let count = SocketCount()
        let a = OpenSockets(classCount: count)
        let b = OpenSockets(classCount: count)
        var limits = WebSocketSettings()
        limits.maxPerObject = 2
        limits.maxPerClass = 3
        let first = try a.reserve(instanceID: "i1", limits: limits, object: "a")
        _ = try a.reserve(instanceID: "i1", limits: limits, object: "a")
        #expect(throws: (any Error).self) { try a.reserve(instanceID: "i1", limits: limits, object: "a") }
        _ = try b.reserve(instanceID: "i2", limits: limits, object: "b")
        do {
            _ = try b.reserve(instanceID: "i2", limits: limits, object: "b")
            Issue.record("the class limit was not applied")
        } catch {
            #expect(error.code.httpStatus == 503)
            #expect(error.retryAfterSeconds == 1)
            #expect(error.message.contains("max_per_class"))
        }
        #expect(count.current == 3)
        a.close(first)
        #expect(count.current == 2)
        #expect(a.count == 1)
        _ = try b.reserve(instanceID: "i2", limits: limits, object: "b")
        #expect(b.byInstance == ["i2": 2])
    }

    final class Recorder: ClosableSocket, @unchecked Sendable {
        var codes: [UInt16] = []
        func goAway(code: UInt16, reason: String) { codes.append(code) }
    }

    @Test("a stopping instance's sockets are told to go away; a socket attached after that is told at once")
    func goAway() throws {
        let sockets = OpenSockets(classCount: SocketCount())
        let limits = WebSocketSettings()
        let one = Recorder(), other = Recorder(), late = Recorder()
        sockets.attach(try sockets.reserve(instanceID: "old", limits: limits, object: "o"), one)
        sockets.attach(try sockets.reserve(instanceID: "new", limits: limits, object: "o"), other)
        let pending = try sockets.reserve(instanceID: "old", limits: limits, object: "o")
        sockets.goAway(instanceID: "old", code: 1001, reason: "stopping")
        #expect(one.codes == [1001])
        #expect(other.codes.isEmpty)
        sockets.attach(pending, late)
        #expect(late.codes == [1001], "its instance stopped before it was attached")
    }
}
