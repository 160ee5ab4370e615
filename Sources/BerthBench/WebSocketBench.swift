import BerthCore
import Foundation

extension Harness {
    // MARK: WebSocket

    /// WebSocket round trips to the same warm container (the class's singleton object, its
    /// echo at a path ending in `/ws`): directly at its own address, through nginx
    /// (`proxy_pass` with the `Upgrade` and `Connection` headers passed on), through Berth's
    /// zero-code routes and through the Swift Worker (on a Worker gateway of its own with
    /// Berth's client pipeline, where a Worker's 101 can switch the connection), in
    /// alternating rounds of `bench/out/wsload` (32 connections, each sending a 64-byte text
    /// message and waiting for its echo before the next): `ws.<target>.msgs_per_s`, `.p50_ms`,
    /// `.p99_ms`, `ws.ratio_vs_nginx`, `ws.ratio_vs_direct`, `ws.worker_ratio_vs_nginx`.
    ///
    /// A target that cannot be measured (its handshake refused, an echo that differs, a close, a
    /// stall) is left out of the later rounds and named, with wsload's first error, under
    /// `failures`: the bench then exits 1 once every scenario ran.
    func webSocket(into results: inout Results) async throws {
        let wsload = repository + "/bench/out/wsload"
        guard FileManager.default.isExecutableFile(atPath: wsload) else {
            throw BerthError(.notFound, "the ws scenario runs \(wsload): build it with `make bench/out/wsload` (make bench does)")
        }
        _ = try await get(gateway + "/singleton")
        let address = try await containerAddress(object: "cf-singleton-container")
        let nginx = try Nginx.start(upstream: "\(address):8080", workers: ProcessInfo.processInfo.activeProcessorCount, webSocket: true)
        defer { nginx.stop() }
        let worker = try await startUpgradingWorkerGateway()
        do {
            try webSocketRounds(address: address, nginx: nginx, worker: worker.url, into: &results)
        } catch {
            worker.task.cancel()
            _ = try? await worker.task.value
            throw error
        }
        worker.task.cancel()
        _ = try? await worker.task.value
    }

    private func webSocketRounds(address: String, nginx: Nginx, worker: String, into results: inout Results) throws {
        let wsload = repository + "/bench/out/wsload"
        func ws(_ http: String) -> String { "ws://" + http.dropFirst("http://".count) }
        let path = "/singleton/ws"
        let targets = [
            ("direct", "ws://\(address):8080"),
            ("nginx", "ws://127.0.0.1:\(nginx.port)"),
            ("berth", ws(gateway)),
            ("worker", ws(worker)),
        ]
        let rounds = quick ? 2 : 5
        let seconds = quick ? 3 : 8
        let connections = 32
        let bytes = 64
        var rate: [String: [Double]] = [:]
        var p50: [String: [Double]] = [:]
        var p99: [String: [Double]] = [:]
        var failed: [String: String] = [:]
        for round in 0..<rounds {
            for (name, base) in targets.rotated(by: round) where failed[name] == nil {
                let run = try WSLoad.run(executable: wsload, url: base + path, seconds: seconds, connections: connections, bytes: bytes)
                let label = "ws round \(round + 1)/\(rounds) \(name)"
                if run.errors > 0 || run.messages == 0 {
                    let why = run.errors > 0 ? "\(run.errors) error(s), the first: \(run.error)" : "no round trip in \(seconds) s"
                    failed[name] = "\(base + path): \(why)"
                    FileHandle.standardError.write(Data("\(label): FAILED: \(why)\n".utf8))
                    continue
                }
                rate[name, default: []].append(run.messagesPerSecond)
                p50[name, default: []].append(run.p50Milliseconds)
                p99[name, default: []].append(run.p99Milliseconds)
                FileHandle.standardError.write(Data("\(label): \(Int(run.messagesPerSecond)) msgs/s, p50 \(run.p50Milliseconds) ms, p99 \(run.p99Milliseconds) ms\n".utf8))
            }
        }
        results.set("ws.connections", Double(connections))
        results.set("ws.message_bytes", Double(bytes))
        results.set("ws.seconds_per_round", Double(seconds))
        results.set("ws.rounds", Double(rounds))
        for (name, _) in targets {
            // Only a target measured in every round: a median over fewer would not be comparable.
            if let why = failed[name] {
                results.fail("ws.\(name): \(why)")
                continue
            }
            results.set("ws.\(name).msgs_per_s", rate[name]!.median)
            results.set("ws.\(name).p50_ms", p50[name]!.median)
            results.set("ws.\(name).p99_ms", p99[name]!.median)
        }
        if let berth = rate["berth"], failed["berth"] == nil {
            if let nginx = rate["nginx"], failed["nginx"] == nil { results.set("ws.ratio_vs_nginx", berth.median / nginx.median) }
            if let direct = rate["direct"], failed["direct"] == nil { results.set("ws.ratio_vs_direct", berth.median / direct.median) }
        }
        if let worker = rate["worker"], let nginx = rate["nginx"], failed["worker"] == nil, failed["nginx"] == nil {
            results.set("ws.worker_ratio_vs_nginx", worker.median / nginx.median)
        }
    }
}

/// One run of `bench/out/wsload` (bench/wsload.c, built static by the Makefile): its JSON line.
struct WSLoad {
    var messages: Int
    var messagesPerSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var errors: Int
    var error: String

    static func run(executable: String, url: String, seconds: Int, connections: Int, bytes: Int, threads: Int = 2) throws -> WSLoad {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", "\(connections)", "-d", "\(seconds)", "-s", "\(bytes)", "-t", "\(threads)", url]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // wsload bounds itself (an alarm 30 s after its run); both pipes are small.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let messages = (object["messages"] as? NSNumber)?.intValue,
              let rate = (object["msgs_per_s"] as? NSNumber)?.doubleValue,
              let p50 = (object["p50_ms"] as? NSNumber)?.doubleValue,
              let p99 = (object["p99_ms"] as? NSNumber)?.doubleValue,
              let errorCount = (object["errors"] as? NSNumber)?.intValue
        else {
            throw BerthError(.internal, "wsload (exit \(process.terminationStatus)) printed something unexpected for \(url): \(text)\(complaint)")
        }
        return WSLoad(messages: messages, messagesPerSecond: rate, p50Milliseconds: p50, p99Milliseconds: p99,
                      errors: errorCount, error: object["error"] as? String ?? "")
    }
}
