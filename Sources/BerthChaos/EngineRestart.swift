import BerthCore
import DockerEngine
import Foundation

extension ChaosSuite {
    /// The engine stopped and started again while Berth serves: a private dockerd (see
    /// ``PrivateEngine``) serves five objects; it is stopped for a while (the answers meanwhile
    /// are counted), started again, and Berth, never restarted, must serve every object again
    /// (`recovered`, `seconds` from the engine's start) with one container each (`duplicates`).
    func engineRestart(into results: inout ChaosResults) async throws {
        let engine = PrivateEngine(run: run, log: out + "/logs/engine_restart-dockerd.log")
        do {
            try await engine.start()
        } catch {
            await engine.destroy()
            results.note("engine_restart: skipped: could not start a private dockerd (\(error)); the shared engine is never restarted")
            return
        }
        do {
            try await engineRestartRounds(engine, into: &results)
        } catch {
            await cleanUp()
            await engine.destroy()
            throw error
        }
        await cleanUp()
        await engine.destroy()
    }

    private func engineRestartRounds(_ engine: PrivateEngine, into results: inout ChaosResults) async throws {
        guard let client = engine.client else { return }
        let project = try project("engine", config: ProjectConfig(name: "chaos-\(run)-engine"))
        let server = try await serveDeployed(project, scenario: "engine_restart", dockerHost: engine.dockerHost, engine: client)
        let urls = (0..<5).map { "\(server.gateway)/container/e-\($0)" }
        for url in urls {
            let answer = await get(url, timeout: .seconds(60))
            guard answer.status == 200 else { throw BerthError(.internal, "before the engine restart \(url) answered \(answer.status): \(answer.body)") }
        }

        engine.stop()
        say("engine_restart: the private dockerd stopped")
        // The outage: each object asked twice a second.
        var outage: [Answer] = []
        let outageEnd = ContinuousClock.now + .seconds(quick ? 5 : 15)
        while ContinuousClock.now < outageEnd {
            for url in urls { outage.append(await get(url, timeout: .seconds(10))) }
            try await Task.sleep(for: .milliseconds(500))
        }

        let started = ContinuousClock.now
        try await engine.start()
        say("engine_restart: the private dockerd started again")
        // Recovery: every object answers 200 in one pass (at most 120 s, 60 s in quick).
        var recovered = false
        var last: [Answer] = []
        let deadline = started + .seconds(quick ? 60 : 120)
        while ContinuousClock.now < deadline {
            last = []
            for url in urls { last.append(await get(url, timeout: .seconds(10))) }
            if last.allSatisfy({ $0.status == 200 }) {
                recovered = true
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        let seconds = started.duration(to: .now).seconds
        try await Task.sleep(for: .seconds(3))
        let containers = try await running(app: project.app, on: client)
        let duplicates = containers.duplicateObjects
        // Containers the engine stopped with itself and that nobody removed since.
        let leftovers = try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(project.app)"]).filter { $0.state != "running" }.count

        results.set("engine_restart.recovered", recovered, goal: true)
        results.set("engine_restart.seconds", recovered ? seconds : .infinity)
        results.set("engine_restart.duplicates", Double(duplicates), goal: .equal(0))
        results.set("engine_restart.leftover_containers", Double(leftovers), goal: .equal(0))
        let refused = outage.filter { $0.status == 503 }.count
        results.set("engine_restart.outage_requests", Double(outage.count))
        results.set("engine_restart.outage_503_share", outage.isEmpty ? 0 : Double(refused) / Double(outage.count), goal: .equal(1))
        let sample: String = outage.first(where: { $0.status != 200 })?.summary ?? "none"
        results.note("engine_restart: during the outage \(outage.statusSummary); first failure: \(sample)")
        if !recovered {
            results.note("engine_restart: not recovered after \(Int(seconds)) s; last answers: \(last.map(\.summary).joined(separator: " | "))")
        }
        server.stop()
    }
}
