import BerthRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs every ``SmugglingCase`` against a gateway whose `/singleton` object runs the recording
/// container, each on a client connection of its own with a pipelined request after it, then
/// a request on a fresh connection (which the gateway may send on the same container
/// connection), and compares what the clients got and what the container received with what
/// the clients sent.
///
/// A **desync** is a response that answers another request than its own, or container bytes
/// that do not split into exactly the requests sent (a request no client sent, one arriving
/// twice or not whole, bytes left over). A **wrong outcome** is a status other than the
/// case's, a refused request that reached the container whole, or a connection left open
/// after a refusal.
final class SmugglingRun {
    let path: String
    let gatewayPort: Int
    let container: Endpoint
    private(set) var results: [(case: SmugglingCase, desyncs: [String], wrong: [String])] = []
    /// Whole requests the container had received, before the case now running.
    private var seen: [SeenRequest: Int] = [:]
    /// Connections whose malformed bytes or leftover were already reported, or accepted.
    private var accounted: [Int: Int] = [:]
    /// Request lines a request broken off by the gateway may have left behind.
    private var cutOffStarts: [String] = []

    init(path: String, gatewayPort: Int, container: Endpoint) {
        self.path = path
        self.gatewayPort = gatewayPort
        self.container = container
    }

    /// Requests the gateway forwarded whole, on every case so far.
    private(set) var forwardedRequests = 0

    func run(_ cases: [SmugglingCase]) throws {
        seen = try snapshot().0
        for (index, smugglingCase) in cases.enumerated() {
            try run(smugglingCase, index: index)
        }
    }

    var desyncCount: Int { results.filter { !$0.desyncs.isEmpty }.count }
    var wrongCount: Int { results.filter { !$0.wrong.isEmpty }.count }

    var summary: String {
        let forwarded = results.filter { if case .forwarded = $0.case.outcome { true } else { false } }.count
        let refused = results.filter { if case .refused = $0.case.outcome { true } else { false } }.count
        return "smuggling suite, \(path) path: \(results.count) cases tried, \(desyncCount) desyncs seen, \(wrongCount) wrong outcomes "
            + "(\(forwarded) to forward, \(refused) to refuse, \(results.count - forwarded - refused) to cut off)"
    }

    var failures: [String] {
        results.flatMap { result in
            (result.desyncs.map { "desync: \($0)" } + result.wrong.map { "wrong outcome: \($0)" }).map {
                "\(path) path, \(result.case.family) \(result.case.name): \($0)"
            }
        }
    }

    // MARK: One case

    private func run(_ smugglingCase: SmugglingCase, index: Int) throws {
        let target = "/singleton/smuggle/\(index)"
        let next = target + "/next"
        let after = target + "/after"
        var desyncs: [String] = []
        var wrong: [String] = []
        var expected: [SeenRequest] = []

        let client = try RawHTTP(port: gatewayPort, readTimeout: 10)
        try client.send(smugglingCase.bytes(target) + "GET \(next) HTTP/1.1\r\nHost: smuggle.test\r\n\r\n")
        do {
            switch smugglingCase.outcome {
            case .forwarded(let method, let body):
                let reply = try client.readResponse(head: method == "HEAD")
                let own = "\(method) \(target) len=\(body.utf8.count)"
                if reply.status != 200 {
                    wrong.append("answered \(reply.statusLine): \(reply.text.prefix(200))")
                } else if reply.header("x-seen") != own {
                    desyncs.append("the response answers \(reply.header("x-seen") ?? "nothing the container saw"), not \(own)")
                }
                if reply.status == 200 {
                    let following = try client.readResponse()
                    if following.header("x-seen") != "GET \(next) len=0" {
                        desyncs.append("the pipelined request got the response of \(following.header("x-seen") ?? following.statusLine)")
                    }
                    expected = [SeenRequest(method: method, target: target, body: Array(body.utf8)), SeenRequest(method: "GET", target: next, body: [])]
                    forwardedRequests += 2
                }
            case .refused(let status):
                try expectRefusal(client, status: status, wrong: &wrong, desyncs: &desyncs)
            case .cutOff(let method):
                cutOffStarts.append("\(method) \(target) ")
                try expectRefusal(client, status: 400, wrong: &wrong, desyncs: &desyncs)
            }
        } catch {
            desyncs.append("the client's connection failed: \(error) (a gateway waiting for bytes it thinks are still to come)")
        }

        do {
            let fresh = try RawHTTP(port: gatewayPort, readTimeout: 10)
            try fresh.send("GET \(after) HTTP/1.1\r\nHost: smuggle.test\r\n\r\n")
            let reply = try fresh.readResponse()
            if reply.header("x-seen") != "GET \(after) len=0" {
                desyncs.append("a request on a fresh connection got the response of \(reply.header("x-seen") ?? reply.statusLine)")
            }
            expected.append(SeenRequest(method: "GET", target: after, body: []))
            forwardedRequests += 1
        } catch {
            desyncs.append("a request on a fresh connection failed: \(error)")
        }

        try checkContainer(expected: expected, target: target, desyncs: &desyncs, wrong: &wrong)
        results.append((smugglingCase, desyncs, wrong))
    }

    private func expectRefusal(_ client: RawHTTP, status: Int, wrong: inout [String], desyncs: inout [String]) throws {
        let reply = try client.readResponse()
        guard reply.status == status else {
            wrong.append("answered \(reply.statusLine) (\(reply.header("x-seen") ?? reply.text.prefix(200).description)), not \(status)")
            return
        }
        if !reply.text.contains("RFC 9") { wrong.append("the refusal does not say why: \(reply.text.debugDescription)") }
        if reply.header("connection")?.lowercased() != "close" { wrong.append("the refusal does not say Connection: close") }
        if !Self.closedByServer(client) { wrong.append("the connection stays open after the refusal") }
    }

    /// True when the server closed the connection (an end of stream or a reset), false when
    /// more comes or nothing comes in time.
    private static func closedByServer(_ client: RawHTTP) -> Bool {
        do {
            return try client.isClosedByServer()
        } catch RawHTTPError.io(let code) where code == EAGAIN || code == EWOULDBLOCK {
            return false
        } catch {
            return true
        }
    }

    // MARK: The container's bytes

    /// Every whole request the container received, and its connections split.
    private func snapshot() throws -> ([SeenRequest: Int], [(RecordedConnection, StrictSplit)]) {
        let connections = try RecorderLog.fetch(container).map { ($0, StrictSplit($0.bytes)) }
        var counts: [SeenRequest: Int] = [:]
        for (_, split) in connections {
            for request in split.requests { counts[request, default: 0] += 1 }
        }
        return (counts, connections)
    }

    private func checkContainer(expected: [SeenRequest], target: String, desyncs: inout [String], wrong: inout [String]) throws {
        var wanted: [SeenRequest: Int] = [:]
        for request in expected { wanted[request, default: 0] += 1 }
        // Until what was answered has arrived and every connection left mid-request closed:
        // within 30 s, as a full parallel run can keep the machine busy for a long while (a
        // Worker's broken body reached AsyncHTTPClient's close only after 10 s in one such run).
        let deadline = Date().addingTimeInterval(30)
        var now: [SeenRequest: Int]
        var connections: [(RecordedConnection, StrictSplit)]
        repeat {
            (now, connections) = try snapshot()
            let arrived = wanted.allSatisfy { now[$0.key, default: 0] - seen[$0.key, default: 0] >= $0.value }
            let settled = connections.allSatisfy { connection, split in
                split.rest.isEmpty || connection.closed || split.error != nil || accounted[connection.id] == split.rest.count
            }
            if arrived && settled { break }
            usleep(20_000)
        } while Date() < deadline

        for (request, count) in now {
            let extra = count - seen[request, default: 0] - wanted[request, default: 0]
            guard extra > 0 else { continue }
            if request.target == target || request.target == target + "/next" {
                wrong.append("refused, yet it reached the container whole: \(request)")
            } else {
                desyncs.append("the container saw a request no client sent (or one more time than sent): \(request)")
            }
        }
        for (request, count) in wanted where now[request, default: 0] - seen[request, default: 0] < count {
            desyncs.append("never reached the container whole: \(request)")
        }
        for (connection, split) in connections where !split.rest.isEmpty && accounted[connection.id] != split.rest.count {
            let start = String(decoding: split.rest.prefix(80), as: UTF8.self)
            if let error = split.error {
                desyncs.append("container connection \(connection.id) does not split into requests: \(error): \(start.debugDescription)")
            } else if connection.closed && cutOffStarts.contains(where: { start.hasPrefix($0) }) {
                // The start of a request the gateway broke off, on a connection it closed.
            } else if connection.closed {
                desyncs.append("container connection \(connection.id) closed mid-request: \(start.debugDescription)")
            } else {
                desyncs.append("container connection \(connection.id) holds bytes of no whole request: \(start.debugDescription)")
            }
            accounted[connection.id] = split.rest.count
        }
        seen = now
    }
}
