import AsyncHTTPClient
import BerthCore
import BerthRuntime
import BerthTestSupport
import Foundation
import Synchronization
import Testing

@Suite("Engine pacing on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct EnginePacingTests {
    /// Runs `count` first requests to distinct objects at once with `max_concurrent_starts`
    /// `starts` and `max_instances` `maxInstances`; returns the replies and the runtime.
    static func burst(
        count: Int, maxInstances: Int, starts: Int, instanceGetTimeout: String = "60s"
    ) async throws -> (replies: [(status: Int, seconds: Double, body: String)], maxConcurrent: Int, engineStarts: Int) {
        let recording = Mutex<RecordingRuntime?>(nil)
        let result = Mutex<(replies: [(status: Int, seconds: Double, body: String)], maxConcurrent: Int, engineStarts: Int)>(([], 0, 0))
        let berth = #"{ "max_concurrent_starts": \#(starts), "instance_get_timeout": "\#(instanceGetTimeout)" }"#
        try await GatewayFixture.with(maxInstances: maxInstances, berth: berth, wrapRuntime: { base in
            let wrapped = RecordingRuntime(base)
            recording.withLock { $0 = wrapped }
            return wrapped
        }) { f in
            let runtime = try #require(recording.withLock { $0 })
            // A client of its own whose pool does not hold the burst back (the shared one
            // opens 8 connections per host).
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: count)
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            let started = ContinuousClock.now
            let replies = try await withThrowingTaskGroup(of: (status: Int, seconds: Double, body: String).self) { group in
                for i in 0..<count {
                    group.addTask {
                        let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(f.port)/container/paced-\(i)"), timeout: .seconds(120))
                        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                        let elapsed = started.duration(to: .now)
                        return (Int(response.status.code), Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, body)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try await client.shutdown()
            result.withLock { $0 = (replies, runtime.maxConcurrentStarts, runtime.starts) }
        }
        return result.withLock { $0 }
    }

    @Test("with max_concurrent_starts 2 the engine never runs more than 2 starts at once, and every admitted request is answered")
    func bounded() async throws {
        let (replies, maxConcurrent, starts) = try await Self.burst(count: 8, maxInstances: 6, starts: 2)
        #expect(maxConcurrent == 2)
        #expect(starts == 6)
        #expect(replies.filter { $0.status == 200 }.count == 6)
        #expect(replies.filter { $0.status == 503 }.count == 2)
    }

    /// Figures for README: `BERTH_MEASURE_PACING=<starts>` (1024: no pacing, as before).
    @Test("measure: 100 first requests to distinct objects, max_instances 50, instance_get_timeout 8s",
          .enabled(if: ProcessInfo.processInfo.environment["BERTH_MEASURE_PACING"] != nil))
    func measure() async throws {
        let starts = Int(ProcessInfo.processInfo.environment["BERTH_MEASURE_PACING"] ?? "") ?? 4
        let (replies, maxConcurrent, engineStarts) = try await Self.burst(count: 100, maxInstances: 50, starts: starts, instanceGetTimeout: "8s")
        let ok = replies.filter { $0.status == 200 }.map(\.seconds).sorted()
        let refused = replies.filter { $0.status == 503 }.count
        let failed = replies.filter { $0.status != 200 && $0.status != 503 }
        let median = ok.isEmpty ? 0 : ok[ok.count / 2]
        print("PACING max_concurrent_starts=\(starts) engine_starts=\(engineStarts) max_concurrent=\(maxConcurrent) ok=\(ok.count) refused=\(refused) failed=\(failed.count) ok_median_s=\(String(format: "%.2f", median)) ok_max_s=\(String(format: "%.2f", ok.last ?? 0))")
        for body in Set(failed.map { "\($0.status) \($0.body.prefix(120))" }) { print("PACING failure: \(body)") }
    }
}
