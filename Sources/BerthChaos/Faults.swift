import BerthCore
import DockerEngine
import Foundation

extension ChaosSuite {
    /// A class with the `lite` instance type (its memory limit) whose container allocates
    /// until the kernel kills it: Berth records one stop with the exit code (`onStop` runs once
    /// per stop event), and the next request is served by a new container.
    func outOfMemory(into results: inout ChaosResults) async throws {
        let project = try project("oom", config: ProjectConfig(name: "chaos-\(run)-oom", className: "Oom", instanceType: "lite", entrypoint: ["/fault"],
            routes: #"[{ "prefix": "/memory", "binding": "WEB", "object": "query:id" }]"#
        ))
        let server = try await serveDeployed(project, scenario: "oom")
        let events = try await EngineEvents(engine: engine, labels: ["\(BerthLabel.app)=\(project.app)"])
        defer { events.stop() }
        let url = "\(server.gateway)/memory"
        let first = await get(url + "/?id=m1", timeout: .seconds(60))
        guard first.status == 200, let instance = first.instance else { throw BerthError(.internal, "the OOM object answered \(first.summary)") }
        let trigger = await get(url + "/oom?id=m1", timeout: .seconds(60))
        // Berth's record of the instance: its stop events (at most 30 s, then 3 s more to see a second one).
        var stops: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline && stops.isEmpty {
            stops = try await stopEvents(server, instance: instance)
            if stops.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        try await Task.sleep(for: .seconds(3))
        stops = try await stopEvents(server, instance: instance)
        let next = await get(url + "/?id=m1", timeout: .seconds(60))
        let code = stops.first.flatMap { detail in
            detail.range(of: "exit code ").flatMap { Int(detail[$0.upperBound...].prefix { $0.isNumber }) }
        }
        let die = events.all.first { $0.action == "die" }
        results.set("oom.stopped_with_code", Double(code ?? -1), goal: .equal(137))
        results.set("oom.onstop_calls", Double(stops.count), goal: .equal(1))
        results.set("oom.ok", next.status == 200 && next.instance != nil && next.instance != instance, goal: true)
        results.set("oom.engine_oom_events", Double(events.all.filter { $0.action == "oom" }.count))
        results.note("oom: the allocating request got \(trigger.summary); the engine's die exit code \(die?.exitCode.map(String.init) ?? "none"); Berth's stops: \(stops); next: \(next.status)")
        server.stop()
    }

    /// The `stopped` events Berth's state store holds for an instance, by their detail.
    private func stopEvents(_ server: ServeProcess, instance: String) async throws -> [String] {
        let events = try await server.adminJSON("/api/instances/\(instance)/events") as? [[String: Any]] ?? []
        return events.filter { $0["kind"] as? String == "stopped" }.map { $0["detail"] as? String ?? "" }
    }

    /// A container that exits with code 3 at once, asked once a second: how often Berth asks
    /// the engine (container create, start and remove, from the engine's events; at most 10
    /// in any minute), and what clients get meanwhile (503 with `Retry-After` and the exit
    /// code; the request of each failed attempt a 500 with both).
    func crashLoop(into results: inout ChaosResults) async throws {
        let project = try project("crash", config: ProjectConfig(name: "chaos-\(run)-crash", className: "Crash", entrypoint: ["/fault", "exit", "3"]))
        let server = try await serveDeployed(project, scenario: "crash_loop")
        let events = try await EngineEvents(engine: engine, labels: ["\(BerthLabel.app)=\(project.app)"])
        defer { events.stop() }
        let started = ContinuousClock.now
        let window: Duration = .seconds(quick ? 60 : 180)
        var answers: [Answer] = []
        while started.duration(to: .now) < window {
            answers.append(await get("\(server.gateway)/container/crash-1", timeout: .seconds(30)))
            try await Task.sleep(for: .seconds(1))
        }
        server.stop()
        let calls = events.all.filter { ["create", "start", "destroy"].contains($0.action) }.map(\.date)
        // The most calls in any 60 s (a window starting at each call).
        let perMinute = calls.map { start in calls.filter { $0 >= start && $0 < start.addingTimeInterval(60) }.count }.max() ?? 0
        let failed = answers.filter { $0.status != 200 }
        // 503s while the start waits, and the 500 of each failed attempt: both say when to come back.
        let withRetry = failed.filter { ($0.status == 503 || $0.status == 500) && $0.retryAfter != nil }.count
        let withCode = failed.filter { $0.body.contains("code 3") }.count
        results.set("crash_loop.engine_calls_per_min", Double(perMinute), goal: .atMost(10))
        results.set("crash_loop.starts", Double(events.all.filter { $0.action == "create" }.count))
        results.set("crash_loop.attempts", Double(events.all.filter { $0.action == "start" }.count))
        results.set("crash_loop.answers_500", Double(answers.filter { $0.status == 500 }.count))
        results.set("crash_loop.seconds", window.seconds)
        results.set("crash_loop.requests", Double(answers.count))
        results.set("crash_loop.retry_after_share", failed.isEmpty ? 0 : Double(withRetry) / Double(failed.count), goal: .equal(1))
        results.set("crash_loop.exit_code_share", failed.isEmpty ? 0 : Double(withCode) / Double(failed.count), goal: .equal(1))
        results.note("crash_loop: answers \(answers.statusSummary); first failure: \(failed.first?.summary ?? "none")")
    }
}
