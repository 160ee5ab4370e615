import BerthRuntime
@testable import BerthServer
import Foundation
import Testing

/// The smuggling suite (see ``SmugglingCase/all``), through both of the gateway's paths to a
/// container that records every byte it receives: the warm path (a zero-code route to a
/// healthy container, forwarded on the event loop) and the Worker's (a Swift Worker, through
/// AsyncHTTPClient). Each prints the cases tried and the desyncs seen.
@Suite("Request smuggling on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct SmugglingTests {
    static let berth = #"{ "classes": { "MyContainer": { "sleep_after": "10m" } } }"#

    static func recorder() throws -> String {
        try ExampleServer.binary(of: RecorderLog.source)
    }

    /// Where Berth reaches the recording container, the object started first.
    static func container(_ f: GatewayFixture) async throws -> Endpoint {
        let first = try await f.request("/singleton/smuggle/start")
        #expect(first.header("x-seen") == "GET /singleton/smuggle/start len=0")
        let lease = try #require(f.myContainer.getByName("cf-singleton-container").tryAcquireWarm(), "the container is healthy")
        lease.releaseNow()
        return lease.endpoint
    }

    /// What a run found, printed and checked.
    struct Report: Sendable {
        var tried: Int
        var desyncs: Int
        var wrong: Int
        var forwardedRequests: Int
        var summary: String
        var failures: [String]

        func check() {
            print(summary)
            for failure in failures { print("  " + failure) }
            #expect(tried >= 40)
            #expect(desyncs == 0, "\(summary)\n\(failures.joined(separator: "\n"))")
            #expect(wrong == 0, "\(summary)\n\(failures.joined(separator: "\n"))")
        }
    }

    /// Runs the suite on a thread of its own: its sockets block, and the cooperative pool
    /// (two threads on a small machine) must stay free for the gateway's own tasks.
    static func run(path: String, gatewayPort: Int, container: Endpoint) async throws -> Report {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let run = SmugglingRun(path: path, gatewayPort: gatewayPort, container: container)
                    try run.run(SmugglingCase.all)
                    return Report(
                        tried: run.results.count, desyncs: run.desyncCount, wrong: run.wrongCount, forwardedRequests: run.forwardedRequests,
                        summary: run.summary, failures: run.failures
                    )
                })
            }.start()
        }
    }

    @Test("the warm path: each container sees exactly the requests its clients sent; no desync")
    func warmPath() async throws {
        try await GatewayFixture.with(berth: Self.berth, server: try Self.recorder()) { f in
            let container = try await Self.container(f)
            let before = await f.upstreams.counts()
            let report = try await Self.run(path: "warm", gatewayPort: f.port, container: container)
            let after = await f.upstreams.counts()
            #expect(after.forwarded - before.forwarded >= report.forwardedRequests, "the cases took the warm path")
            report.check()
        }
    }

    @Test("the Worker path: each container sees exactly the requests its clients sent; no desync")
    func workerPath() async throws {
        try await GatewayFixture.with(worker: TemplateWorker(), containerTypes: ["MyContainer": PlainContainer.self], server: try Self.recorder()) { f in
            let container = try await Self.container(f)
            let report = try await Self.run(path: "Worker", gatewayPort: f.port, container: container)
            #expect(await f.upstreams.counts().forwarded == 0, "nothing took the warm path")
            report.check()
        }
    }
}
