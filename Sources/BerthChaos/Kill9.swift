import BerthCore
import DockerEngine
import Foundation

extension ChaosSuite {
    /// `kill -9` of `berth serve` while a client loop drives 50 objects, then a restart on the
    /// same ports; after each restart, from the engine's containers (by Berth's labels), the
    /// admin API's instances and the instance ids the answers carry: object names with a second
    /// running container (`duplicates`), running containers no instance owns (`orphans`),
    /// objects answered by another instance although the container that answered before the
    /// kill still runs (`changed`; `replaced` when that container is gone), and the share of
    /// requests sent after the restart that were answered 200. Half the rounds (the
    /// second half) run on a folder that was first served under another app name and then
    /// renamed, so that its state holds that app's deployments too.
    func kill9(into results: inout ChaosResults) async throws {
        let rounds = quick ? 5 : 20
        let renamedRounds = rounds / 2
        let settings = ["stop_grace_period": "1s", "instance_get_timeout": "60s", "port_ready_timeout": "30s"]
        var totals = Kill9Totals()

        let plain = try project("kill9", config: ProjectConfig(name: "chaos-\(run)-kill9", berth: settings))
        try await kill9Rounds(plain, rounds: rounds - renamedRounds, apps: [plain.app], scenario: "kill9", into: &totals)
        await cleanUp()

        // The folder served and deployed under its first name (the app is named after the
        // folder: no `name`), one object used, the server stopped; then renamed.
        let old = try project("kill9-old", folderName: "berth-chaos-\(run)-old", config: ProjectConfig(name: nil, berth: settings))
        let first = try await serveDeployed(old, scenario: "kill9-renamed")
        let warm = await get(first.gateway + "/container/keep")
        if warm.status != 200 { results.note("kill9: the first name's server answered \(warm.status) for /container/keep") }
        first.stop()
        let folder = NSTemporaryDirectory() + "berth-chaos-\(run)-renamed"
        try FileManager.default.moveItem(atPath: old.folder, toPath: folder)
        track(folder: folder)
        let renamed = Project(folder: folder, app: (folder as NSString).lastPathComponent, className: old.className)
        var renamedTotals = Kill9Totals()
        try await kill9Rounds(renamed, rounds: renamedRounds, apps: [old.app, renamed.app], scenario: "kill9-renamed", into: &renamedTotals)
        totals.add(renamedTotals)

        results.set("kill9.rounds", Double(totals.rounds))
        results.set("kill9.duplicates", Double(totals.duplicates), goal: .equal(0))
        results.set("kill9.orphans", Double(totals.orphans), goal: .equal(0))
        results.set("kill9.changed", Double(totals.changed), goal: .equal(0))
        results.set("kill9.answered_after", totals.answeredShare, goal: .equal(1))
        results.set("kill9.renamed.rounds", Double(renamedTotals.rounds))
        results.set("kill9.renamed.duplicates", Double(renamedTotals.duplicates), goal: .equal(0))
        results.set("kill9.replaced", Double(totals.replaced))
        results.set("kill9.restart_ready_seconds_max", totals.readySecondsMax)
    }

    private func kill9Rounds(_ project: Project, rounds: Int, apps: [String], scenario: String, into totals: inout Kill9Totals) async throws {
        var server = try await serveDeployed(project, scenario: scenario)
        let names = ["keep"] + (1..<50).map { "k-\($0)" }
        let load = LoadLoop(suite: self, urls: names.map { "\(server.gateway)/container/\($0)" })
        defer { Task { await load.stop() } }
        guard await load.waitAllAnswered(count: names.count, since: .distantPast, timeout: .seconds(180)) else {
            throw BerthError(.timeout, "the 50 objects did not all answer 200 within 180 s before the first kill")
        }
        for round in 1...rounds {
            // Which instance last answered each object, and its container.
            let servedBefore = load.lastInstances()
            let runningBefore = try await running(apps: apps)
            let instancesBefore = try await server.instances().count
            server.kill9()
            try await Task.sleep(for: .milliseconds(500))
            let restarted = ContinuousClock.now
            server = try await restart(server)
            let readyAt = Date()
            totals.readySecondsMax = max(totals.readySecondsMax, restarted.duration(to: .now).seconds)
            // Let the load run, until every object answered again (at most 30 s) and 3 s more.
            _ = await load.waitAllAnswered(count: names.count, since: readyAt, timeout: .seconds(30))
            try await Task.sleep(for: .seconds(3))
            let snapshotAt = Date()
            let after = try await server.instances()
            let containers = try await running(apps: apps)
            let owned = after.values.map(\.container)
            let duplicates = containers.duplicateObjects
            let orphans = containers.filter { container in !owned.contains { !$0.isEmpty && (container.id.hasPrefix($0) || $0.hasPrefix(container.id)) } }.count
            let answers = load.answers(since: readyAt, until: snapshotAt)
            var changed = 0
            var replaced = 0
            for (index, instance) in servedBefore {
                let servedAfter = Set(answers.filter { $0.index == index && $0.status == 200 }.compactMap(\.instance))
                guard servedAfter.contains(where: { $0 != instance }) else { continue }
                let kept = runningBefore.contains { $0.labels[BerthLabel.instance] == instance }
                    && containers.contains { $0.labels[BerthLabel.instance] == instance }
                if kept { changed += 1 } else { replaced += 1 }
            }
            totals.rounds += 1
            totals.duplicates = max(totals.duplicates, duplicates)
            totals.orphans = max(totals.orphans, orphans)
            totals.changed += changed
            totals.replaced += replaced
            totals.answered += answers.filter { $0.status == 200 }.count
            totals.sent += answers.count
            say("\(scenario) round \(round)/\(rounds): \(instancesBefore) instances before (\(runningBefore.count) containers), \(after.count) after (\(containers.count) containers): duplicates \(duplicates), orphans \(orphans), changed \(changed), replaced \(replaced), answered \(answers.filter { $0.status == 200 }.count)/\(answers.count)")
        }
        await load.stop()
    }

    /// The running containers of these apps.
    func running(apps: [String], on engine: DockerClient? = nil) async throws -> [ContainerSummary] {
        var containers: [ContainerSummary] = []
        for app in apps { containers += try await running(app: app, on: engine) }
        return containers
    }
}

/// Over the rounds: `duplicates` and `orphans` the most after any restart (they persist from
/// round to round), `changed`, `replaced` and the answers summed.
struct Kill9Totals {
    var rounds = 0
    var duplicates = 0
    var orphans = 0
    var changed = 0
    var replaced = 0
    var answered = 0
    var sent = 0
    var readySecondsMax = 0.0

    var answeredShare: Double { sent == 0 ? 0 : Double(answered) / Double(sent) }

    mutating func add(_ other: Kill9Totals) {
        rounds += other.rounds
        duplicates = max(duplicates, other.duplicates)
        orphans = max(orphans, other.orphans)
        changed += other.changed
        replaced += other.replaced
        answered += other.answered
        sent += other.sent
        readySecondsMax = max(readySecondsMax, other.readySecondsMax)
    }
}
