import BerthCore
import DockerEngine
import Foundation

extension ChaosSuite {
    /// 1,000 concurrent first requests to 1,000 distinct objects of a class with
    /// `max_instances` 50 (the other settings at their defaults): the running containers,
    /// counted from the engine's own start and die events, never exceed 50; the refused get
    /// 503; every admitted request (any answer but 503) is answered 200.
    func admission(into results: inout ChaosResults) async throws {
        let limit = 50
        let count = 1000
        let project = try project("admission", config: ProjectConfig(name: "chaos-\(run)-admission", maxInstances: limit))
        let server = try await serveDeployed(project, scenario: "admission")
        let events = try await EngineEvents(engine: engine, labels: ["\(BerthLabel.app)=\(project.app)"])
        defer { events.stop() }
        let answers = await withTaskGroup(of: Answer.self) { group in
            for index in 0..<count {
                group.addTask { await self.get("\(server.gateway)/container/a-\(index)", timeout: .seconds(120)) }
            }
            var answers: [Answer] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        try await Task.sleep(for: .seconds(2))
        var running = Set<String>()
        var maxRunning = 0
        var violations = 0
        for event in events.all {
            switch event.action {
            case "start": running.insert(event.actor.id)
            case "die", "destroy": running.remove(event.actor.id)
            default: continue
            }
            maxRunning = max(maxRunning, running.count)
            if running.count > limit { violations += 1 }
        }
        let refused = answers.filter { $0.status == 503 }.count
        let ok = answers.filter { $0.status == 200 }.count
        // No answer because no connection was made: the request never reached Berth.
        let markers = ["getConnectionFromPoolTimeout", "connectTimeout", "refused"]
        let unconnected = answers.filter { answer in answer.status == 0 && markers.contains { answer.body.contains($0) } }.count
        results.set("admission.unconnected", Double(unconnected), goal: .equal(0))
        results.set("admission.violations", Double(violations), goal: .equal(0))
        results.set("admission.max_running", Double(maxRunning), goal: .atMost(Double(limit)))
        results.set("admission.admitted", Double(count - refused - unconnected))
        results.set("admission.admitted_ok", Double(ok), goal: .equal(Double(count - refused - unconnected)))
        results.set("admission.refused_503", Double(refused))
        let other = answers.filter { $0.status != 200 && $0.status != 503 }
        if let first = other.first {
            results.note("admission: admitted but not answered 200: \(other.statusSummary); e.g. \(first.summary)")
        }
        server.stop()
    }

    /// One object with `sleep_after` 2 s and a trickle of slow requests (3 s each, the next
    /// 0.5–7 s after the last began, so that some overlap, some come as the idle timer expires
    /// and some leave the object idle long enough to sleep):
    /// no container may be stopped while a request it serves is in flight. A stop is the
    /// engine's first kill or die event of a container; a request it broke is one in flight
    /// then that was answered by that container's instance or not answered 200.
    func idleUnderTrickle(into results: inout ChaosResults) async throws {
        let project = try project("idle", config: ProjectConfig(name: "chaos-\(run)-idle", sleepAfter: "2s"))
        let server = try await serveDeployed(project, scenario: "idle")
        let events = try await EngineEvents(engine: engine, labels: ["\(BerthLabel.app)=\(project.app)"])
        defer { events.stop() }
        let window: Duration = .seconds(quick ? 30 : 150)
        let started = ContinuousClock.now
        let answers = await withTaskGroup(of: Answer.self) { group in
            var generator = SystemRandomNumberGenerator()
            while started.duration(to: .now) < window {
                group.addTask { await self.get("\(server.gateway)/container/idle-1/sleep/3", timeout: .seconds(60)) }
                try? await Task.sleep(for: .milliseconds(Int.random(in: 500...7000, using: &generator)))
            }
            var answers: [Answer] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        try await Task.sleep(for: .seconds(1))
        var stops: [String: (at: Date, instance: String)] = [:]
        for event in events.all where ["kill", "die"].contains(event.action) && stops[event.actor.id] == nil {
            stops[event.actor.id] = (event.date, event.actor.attributes[BerthLabel.instance] ?? "")
        }
        var broken = 0
        for stop in stops.values {
            broken += answers.filter { $0.started < stop.at && stop.at < $0.ended && ($0.status != 200 || $0.instance == stop.instance) }.count
        }
        results.set("idle.stopped_in_flight", Double(broken), goal: .equal(0))
        results.set("idle.requests", Double(answers.count))
        results.set("idle.failed", Double(answers.filter { $0.status != 200 }.count), goal: .equal(0))
        results.set("idle.stops", Double(stops.count))
        server.stop()
    }
}
