import AsyncHTTPClient
import BerthCore
import Foundation

extension Harness {
    // MARK: Footprint

    /// Berth's resident memory as a separate process (`berth dev`, the release binary next to
    /// this one): idle after its deployment, with 50 running instances, after 10,000 more
    /// objects were used, and after 200,000 names more. Those get `max_instances` (50)
    /// answers: each object is created, asked for a start and refused, so the growth per
    /// object is what Berth keeps for an object that never ran; and the size of state.sqlite
    /// once the server has stopped. Running and then stopping 10,000 containers would take
    /// this machine about half an hour.
    func footprint(into results: inout Results) async throws {
        let stoppedCount = 10_000
        let unusedCount = 200_000
        let runningCount = 50
        let project = try separateProject("footprint", maxInstances: runningCount)
        defer { try? FileManager.default.removeItem(atPath: project.folder) }

        let (process, gateway) = try await Self.startDev(project.folder, scenario: "footprint")
        defer {
            if process.isRunning {
                process.interrupt()
                process.waitUntilExit()
            }
        }
        let pid = process.processIdentifier

        try await Task.sleep(for: .seconds(2))
        let idle = try Self.residentBytes(pid)

        let started = try await requestAll((0..<runningCount).map { "\(gateway)/container/running-\($0)" }, concurrency: runningCount)
        guard started[200] == runningCount else { throw BerthError(.internal, "50 starts answered \(started)") }
        try await Task.sleep(for: .seconds(1))
        let running = try Self.residentBytes(pid)

        let refused = try await requestAll((0..<stoppedCount).map { "\(gateway)/container/stopped-\($0)" }, concurrency: 32)
        guard refused[503] == stoppedCount else { throw BerthError(.internal, "the used objects answered \(refused)") }
        try await Task.sleep(for: .seconds(1))
        let stopped = try Self.residentBytes(pid)

        // Names no one will use again, all refused: what memory keeps for each is what an
        // unauthenticated client can make Berth keep by varying the URL. Events are written
        // off the request path: the state files unchanged for 5 s (at most 2 minutes) mean
        // that nothing is queued any more.
        let unused = try await requestAll((0..<unusedCount).map { "\(gateway)/container/unused-\($0)" }, concurrency: 32)
        guard unused[503] == unusedCount else { throw BerthError(.internal, "the unused names answered \(unused)") }
        var (lastState, quiet, waited) = (Self.stateBytes(project.folder), 0, 0)
        while quiet < 5 && waited < 120 {
            try await Task.sleep(for: .seconds(1))
            let now = Self.stateBytes(project.folder)
            (quiet, lastState, waited) = (now == lastState ? quiet + 1 : 0, now, waited + 1)
        }
        let afterUnused = try Self.residentBytes(pid)

        results.set("footprint.unused_names", Double(unusedCount))
        results.set("footprint.per_unused_name_bytes", Double(afterUnused - stopped) / Double(unusedCount))
        results.set("footprint.idle_rss_mb", Double(idle) / 1_048_576)
        results.set("footprint.running50_rss_mb", Double(running) / 1_048_576)
        results.set("footprint.per_running_instance_bytes", Double(running - idle) / Double(runningCount))
        results.set("footprint.stopped_objects", Double(stoppedCount))
        results.set("footprint.stopped_rss_mb", Double(stopped) / 1_048_576)
        results.set("footprint.per_stopped_object_bytes", Double(stopped - running) / Double(stoppedCount))

        process.interrupt()
        process.waitUntilExit()
        // Stopped: the write-ahead log is in the file now, and removed. The whole file per
        // refused name bounds what each of them left there.
        let state = Self.stateBytes(project.folder)
        results.set("footprint.state_mb", Double(state) / 1_048_576)
        results.set("footprint.state_bytes_per_refused_name", Double(state) / Double(stoppedCount + unusedCount))
        await removeAll(of: project.app)
    }

    /// `berth dev FOLDER` with the release `berth` next to this binary, as its own process,
    /// once it is ready: the process (the caller interrupts it) and its gateway's URL.
    static func startDev(_ folder: String, scenario: String) async throws -> (Process, String) {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("berth").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BerthError(.notFound, "the \(scenario) scenario runs \(executable): build it with `swift build -c release --product berth` (make bench does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["dev", folder, "--port", "0", "--admin-port", "0", "--log-level", "error"]
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        do {
            return (process, try await readyURL(output.fileHandleForReading, process: process))
        } catch {
            if process.isRunning { process.interrupt() }
            process.waitUntilExit()
            throw error
        }
    }

    /// A copy of the example for a scenario's own `berth dev`; `berth` is spliced into the
    /// `"berth"` settings.
    func separateProject(_ suffix: String, maxInstances: Int, instanceType: String = "lite", berth: String = "") throws -> (app: String, folder: String) {
        let app = self.app + "-" + suffix
        let folder = self.folder + "-" + suffix
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: folder + "/server")
        try FileManager.default.copyItem(atPath: repository + "/examples/hello/server", toPath: folder + "/server")
        try "FROM scratch\nCOPY server /server\nEXPOSE 8080\nCMD [\"/server\"]\n".write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
        try """
            {
              "name": "\(app)",
              "containers": [{ "name": "web", "class_name": "Web", "image": "./Dockerfile", "max_instances": \(maxInstances), "instance_type": "\(instanceType)" }],
              "durable_objects": { "bindings": [{ "name": "WEB", "class_name": "Web" }] },
              "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Web"] }],
              "berth": { "instance_get_timeout": "120s", "port_ready_timeout": "60s", "stop_grace_period": "1s",
                         "classes": { "Web": { "sleep_after": "30m" } }\(berth) }
            }
            """.write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
        return (app, folder)
    }

    /// GETs every URL, `concurrency` at a time; the count of each status (0: no answer).
    private func requestAll(_ urls: [String], concurrency: Int) async throws -> [UInt: Int] {
        try await withThrowingTaskGroup(of: UInt.self) { group in
            var counts: [UInt: Int] = [:]
            var next = 0
            func add() {
                guard next < urls.count else { return }
                let url = urls[next]
                next += 1
                group.addTask { (try? await self.get(url))?.0 ?? 0 }
            }
            for _ in 0..<concurrency { add() }
            while let status = try await group.next() {
                counts[status, default: 0] += 1
                add()
            }
            return counts
        }
    }

    /// Waits for `Ready on <url>` on the server's output.
    static func readyURL(_ handle: FileHandle, process: Process) async throws -> String {
        let lines = AsyncStream<String> { continuation in
            Thread.detachNewThread {
                var pending = Data()
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    pending.append(data)
                    while let newline = pending.firstIndex(of: 0x0A) {
                        continuation.yield(String(decoding: pending[..<newline], as: UTF8.self))
                        pending.removeSubrange(...newline)
                    }
                }
                continuation.finish()
            }
        }
        for await line in lines {
            if let range = line.range(of: "Ready on ") { return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces) }
        }
        throw BerthError(.internal, "berth dev exited (status \(process.isRunning ? 0 : process.terminationStatus)) before it was ready")
    }

    /// The size of the project's state.sqlite with its write-ahead log, in bytes.
    static func stateBytes(_ folder: String) -> Int {
        [".berth/state.sqlite", ".berth/state.sqlite-wal"].reduce(0) { total, file in
            let attributes = try? FileManager.default.attributesOfItem(atPath: folder + "/" + file)
            return total + ((attributes?[.size] as? Int) ?? 0)
        }
    }

    /// VmRSS of a process, in bytes.
    static func residentBytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { throw BerthError(.internal, "no VmRSS for process \(pid)") }
        return kilobytes * 1024
    }
}
