import BerthCore
import Foundation

/// `berth-chaos [--quick] [--only kill9,engine_restart,oom,crash_loop,admission,idle]`: faults
/// against `berth serve` processes on copies of a project (see chaos/README.md). Prints a
/// table, each figure with its goal, and writes `chaos/out/results.json`.
@main
struct Chaos {
    /// The scenarios, in the order they run: one list for `--only`, the usage and the run.
    static let scenarios: [(name: String, run: @Sendable (ChaosSuite) -> (inout ChaosResults) async throws -> Void)] = [
        ("kill9", { $0.kill9 }), ("engine_restart", { $0.engineRestart }), ("oom", { $0.outOfMemory }),
        ("crash_loop", { $0.crashLoop }), ("admission", { $0.admission }), ("idle", { $0.idleUnderTrickle }),
    ]
    static let names = scenarios.map(\.name)
    static let usage = "usage: berth-chaos [--quick] [--only \(names.joined(separator: ","))]"

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var quick = false
        var only: Set<String>?
        while !arguments.isEmpty {
            let argument = arguments.removeFirst()
            switch argument {
            case "--quick": quick = true
            case "--only" where !arguments.isEmpty:
                let chosen = Set(arguments.removeFirst().split(separator: ",").map(String.init))
                if let unknown = chosen.subtracting(names).sorted().first { fail("--only: no scenario is called \"\(unknown)\"") }
                only = chosen
            case "-h", "--help":
                print(usage + "\nFaults against `berth serve` processes, with figures and goals; see chaos/README.md.")
                return
            default: fail("unknown argument \"\(argument)\"")
            }
        }
        do {
            try await run(quick: quick, only: only)
        } catch {
            FileHandle.standardError.write(Data("berth-chaos: error: \(error)\n".utf8))
            exit(1)
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("berth-chaos: error: \(message)\n\(usage)\n".utf8))
        exit(64)
    }

    static func run(quick: Bool, only: Set<String>?) async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let suite = try ChaosSuite(repository: repository, quick: quick)
        var results = ChaosResults()
        for (name, scenario) in scenarios where only?.contains(name) ?? true {
            let run = scenario(suite)
            let started = ContinuousClock.now
            suite.say("\(name): starting")
            do {
                try await run(&results)
            } catch {
                // A scenario that could not run says why and the others still run.
                results.note("\(name): did not finish: \(error)")
            }
            await suite.cleanUp()
            suite.say("\(name): done in \(Int(started.duration(to: .now).components.seconds)) s")
        }
        await suite.shutdown()
        try results.write(to: repository + "/chaos/out/results.json")
        print(results.table())
    }
}

/// The figures by key (`kill9.duplicates`…), each with its goal when it has one.
struct ChaosResults {
    var values: [String: Double] = [:]
    var goals: [String: Goal] = [:]
    var notes: [String] = []

    enum Goal {
        case equal(Double)
        case atMost(Double)
        case atLeast(Double)

        func met(_ value: Double) -> Bool {
            switch self {
            case .equal(let goal): value == goal
            case .atMost(let goal): value <= goal
            case .atLeast(let goal): value >= goal
            }
        }

        var text: String {
            switch self {
            case .equal(let goal): "= \(Self.format(goal))"
            case .atMost(let goal): "<= \(Self.format(goal))"
            case .atLeast(let goal): ">= \(Self.format(goal))"
            }
        }

        static func format(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e12 ? String(Int(value)) : String(format: "%.3f", value)
        }
    }

    mutating func set(_ key: String, _ value: Double, goal: Goal? = nil) {
        values[key] = value
        if let goal { goals[key] = goal }
    }

    mutating func set(_ key: String, _ value: Bool, goal: Bool? = nil) {
        set(key, value ? 1 : 0, goal: goal.map { .equal($0 ? 1 : 0) })
    }

    mutating func note(_ text: String) {
        notes.append(text)
        FileHandle.standardError.write(Data("berth-chaos: \(text)\n".utf8))
    }

    var missed: [String] { values.keys.sorted().filter { key in goals[key].map { !$0.met(values[key]!) } ?? false } }

    func write(to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var object: [String: Any] = values
        object["missed"] = missed
        object["notes"] = notes
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    func table() -> String {
        let width = values.keys.map(\.count).max() ?? 0
        var lines = values.keys.sorted().map { key in
            var line = key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(format: "%10.3f", values[key]!)
            if let goal = goals[key] { line += "  goal " + goal.text + (goal.met(values[key]!) ? "  ok" : "  MISSED") }
            return line
        }
        lines.append("")
        lines.append(missed.isEmpty ? "every goal met" : "goals missed: " + missed.joined(separator: ", "))
        lines += notes.map { "note: " + $0 }
        return lines.joined(separator: "\n")
    }
}
