import Foundation
import Synchronization

/// A `berth dev FOLDER --port 0 --admin-port 0` process, read until the gateway says where it
/// listens.
struct DevProcess {
    let process: Process
    /// The gateway's port, or 0 when the output ended before a Ready line.
    let port: Int
    /// What it printed so far (reading goes on until it ends).
    let lines: ServerProcess.OutputLines
    /// Ends the process if it runs for two minutes (or the limit given): a dev server that never gets ready ends
    /// the test instead of hanging it. Cancel it when done.
    let watchdog: Task<Void, any Error>

    /// Starts `berth dev FOLDER --port 0 --admin-port 0`, standard input /dev/null, errors
    /// dropped: the running process, and its output to read.
    static func launch(folder: String, executable: URL = ServerProcess.executable, environment: [String: String] = [:]) throws -> (process: Process, output: FileHandle) {
        let process = Process()
        process.executableURL = executable
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.arguments = ["dev", folder, "--port", "0", "--admin-port", "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        return (process, output.fileHandleForReading)
    }

    /// Launches it and reads its output until the Ready line (or its end).
    static func start(
        folder: String, executable: URL = ServerProcess.executable, environment: [String: String] = [:], watchdog limit: Duration = .seconds(120)
    ) async throws -> DevProcess {
        let (process, handle) = try launch(folder: folder, executable: executable, environment: environment)
        let watchdog = Task {
            try await Task.sleep(for: limit)
            if process.isRunning { process.terminate() }
        }
        let lines = ServerProcess.OutputLines()
        let port: Int = await withCheckedContinuation { continuation in
            // Resumed once: with the port, or 0 when the output ends first.
            let resumed = Mutex(false)
            let resume: @Sendable (Int) -> Void = { port in
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: port) }
            }
            followLines(handle, onLine: { line in
                lines.append(line)
                if let range = line.range(of: "Ready on http://127.0.0.1:") { resume(Int(line[range.upperBound...]) ?? 0) }
            }, onEnd: { resume(0) })
        }
        return DevProcess(process: process, port: port, lines: lines, watchdog: watchdog)
    }

    /// Everything it printed so far.
    var output: [String] { lines.storage.withLock { $0 } }
}
