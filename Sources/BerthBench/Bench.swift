import AsyncHTTPClient
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import BerthWorker
import DockerEngine
import Foundation
import Logging
import NIOCore

/// `berth-bench [--quick]`: Berth side by side with its baselines on this machine (see
/// BENCHMARKS.md). Prints a table and writes `bench/out/results.json`.
@main
struct Bench {
    static func main() async throws {
        // The bench is its own Worker process too: the `worker_process` base runs BenchWorker
        // in a child started with this executable, as a deployment's Worker runs.
        if CommandLine.arguments.contains(WorkerProcess.descriptorArgument) {
            try await WorkerProcess.run(BenchWorker())
            return
        }
        let quick = CommandLine.arguments.contains("--quick")
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var results = Results()
        let bench = try await Harness.start(repository: repository, quick: quick)
        // `--only proxy,proxy_1mib,ws,tls,cold,stampede,fanout,footprint,storage`: some scenarios (while
        // working on one); all by default.
        let only = CommandLine.arguments.firstIndex(of: "--only").flatMap { index in
            CommandLine.arguments.indices.contains(index + 1) ? Set(CommandLine.arguments[index + 1].split(separator: ",").map(String.init)) : nil
        }
        func wanted(_ name: String) -> Bool { only?.contains(name) ?? true }
        do {
            if wanted("proxy") || wanted("proxy_1mib") {
                try await bench.warmProxy(small: wanted("proxy"), large: wanted("proxy_1mib"), into: &results)
            }
            if wanted("ws") { try await bench.webSocket(into: &results) }
            if wanted("tls") { try await bench.tlsProxy(into: &results) }
            if wanted("cold") { try await bench.coldStart(into: &results) }
            if wanted("stampede") { try await bench.stampede(into: &results) }
            if wanted("fanout") { try await bench.fanOut(into: &results) }
            if wanted("footprint") { try await bench.footprint(into: &results) }
            if wanted("storage") { try await bench.storage(into: &results) }
        } catch {
            await bench.stop()
            throw error
        }
        await bench.stop()
        try results.write(to: repository + "/bench/out/results.json")
        print(results.table())
        // A target a scenario could not measure (the ws scenario's): loud, once the rest ran.
        if !results.failures.isEmpty {
            FileHandle.standardError.write(Data(("berth-bench: FAILED\n" + results.failures.map { "  " + $0 + "\n" }.joined()).utf8))
            exit(1)
        }
    }
}

/// The measured values by key (`proxy.berth_rps`…), with the table printed at the end; what a
/// scenario could not measure, under `failures` (the bench then exits 1).
struct Results {
    var values: [String: Double] = [:]
    var lines: [String] = []
    var failures: [String] = []

    mutating func set(_ key: String, _ value: Double) { values[key] = value }
    mutating func fail(_ why: String) { failures.append(why) }

    func write(to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var object: [String: Any] = values
        if !failures.isEmpty { object["failures"] = failures }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    func table() -> String {
        let width = values.keys.map(\.count).max() ?? 0
        let rows = values.keys.sorted().map { key in
            key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(format: "%.3f", values[key]!)
        }
        return (rows + failures.map { "FAILED: " + $0 }).joined(separator: "\n")
    }
}

/// Summary statistics of samples.
extension Array where Element == Double {
    func percentile(_ q: Double) -> Double {
        guard !isEmpty else { return .nan }
        let sorted = self.sorted()
        return sorted[Swift.min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
    }
    var median: Double { percentile(0.5) }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
