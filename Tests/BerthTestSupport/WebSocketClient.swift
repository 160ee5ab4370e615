import BerthCore
import Foundation

/// The repository's WebSocket test client (scripts/ws-client.py, on Debian's
/// `python3-websockets`), run as a real client would connect: each call one process, whose one
/// JSON line comes back as a dictionary. Runs on a dispatch thread, never holding a thread of
/// Swift's cooperative pool while the server under test needs one.
package enum WebSocketClient {
    package static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/ws-client.py").path

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// What the client printed.
    package struct Reply: @unchecked Sendable, CustomStringConvertible {
        package let values: [String: Any]
        package func int(_ key: String) -> Int? { (values[key] as? NSNumber)?.intValue }
        package func double(_ key: String) -> Double? { (values[key] as? NSNumber)?.doubleValue }
        package func string(_ key: String) -> String? { values[key] as? String }
        package func bool(_ key: String) -> Bool? { values[key] as? Bool }
        package func strings(_ key: String) -> [String] { values[key] as? [String] ?? [] }
        package var description: String { "\(values)" }
    }

    /// `mode URL arguments…`; throws with the client's output when it exits non-zero.
    package static func run(_ mode: String, _ url: String, _ arguments: [String] = []) async throws -> Reply {
        let outcome: (Int32, String, String) = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runToFiles("/usr/bin/python3", [script, mode, url] + arguments) })
            }
        }
        let (status, output, errors) = outcome
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0 else { throw Failure(description: "ws-client \(mode) \(url) exited \(status): \(line) \(errors)") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            throw Failure(description: "ws-client \(mode) printed no JSON: \(output) \(errors)")
        }
        return Reply(values: object)
    }

    /// Runs a program with its output in files, not pipes, unlike ``Program/run(_:_:)``:
    /// other tests still start children with Foundation's `Process`, which can take a pipe
    /// made while it forks, and a file has no end of file for such a child to hold back. None
    /// of this process's sockets are open in it (``ChildProcess``).
    static func runToFiles(_ path: String, _ arguments: [String]) throws -> (Int32, String, String) {
        let base = NSTemporaryDirectory() + "berth-ws-client-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let status = try ChildProcess.spawn(path, arguments, stdout: .file(base + ".out"), stderr: .file(base + ".err")).wait()
        let output = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        return (status, output, errors)
    }

    /// A program run to its end on a dispatch thread (output in files): it never holds a thread of the
    /// cooperative pool.
    package static func program(_ path: String, _ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try runToFiles(path, arguments) }) }
        }
    }

    /// Starts `run` now and returns it as a task, for a socket held while something else happens.
    package static func start(_ mode: String, _ url: String, _ arguments: [String] = []) -> Task<Reply, any Error> {
        Task.detached { try await run(mode, url, arguments) }
    }
}
