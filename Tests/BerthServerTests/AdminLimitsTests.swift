import BerthCore
import Foundation
import Testing

/// `berth.limits` applies to the admin listener as to the gateway: `berth serve` as a process.
@Suite("Limits on the admin listener", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct AdminLimitsTests {
    @Test("berth serve: the admin listener times out slow heads and refuses connections past max_connections")
    func adminListener() async throws {
        let berth = #"{ "limits": { "header_timeout": "1s", "max_connections": 2 } }"#
        let project = try ExampleProject(prefix: "adminlim", berth: berth)
        defer { project.remove() }
        let server = try await ServerProcess.start(folder: project.folder)
        defer { server.stop() }
        let port = try #require(server.adminURL.split(separator: ":").last.flatMap { Int($0) }, "\(server.adminURL)")

        let slow = try RawHTTP(port: port)
        try slow.send("GET /api/deployments HTTP/1.1\r\nHost: x\r\n")
        let timedOut = try slow.readResponse()
        #expect(timedOut.status == 408)
        #expect(timedOut.text.contains("header_timeout"))
        #expect(try slow.isClosedByServer())

        let first = try RawHTTP(port: port)
        let second = try RawHTTP(port: port)
        #expect(!first.isReadable(within: 300) && !second.isReadable(within: 300))
        let third = try RawHTTP(port: port)
        let refused = try third.readResponse()
        #expect(refused.status == 503)
        #expect(refused.text.contains("max_connections"))
        try first.send("GET /api/deployments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(server.token)\r\n\r\n")
        #expect(try first.readResponse().status == 200, "the connections let in are served")
    }
}
