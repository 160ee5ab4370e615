import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Reads a process's output line by line on a thread of its own (reads block) until it ends,
/// handing each line to `onLine`, then calls `onEnd`. Reading to the end keeps the process
/// from ever blocking on a full pipe.
func followLines(_ handle: FileHandle, onLine: @escaping @Sendable (String) -> Void, onEnd: @escaping @Sendable () -> Void = {}) {
    DispatchQueue.global().async {
        var buffer = Data()
        while true {
            let data = handle.availableData
            if data.isEmpty { break }
            buffer.append(data)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                onLine(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                buffer.removeSubrange(buffer.startIndex...newline)
            }
        }
        onEnd()
    }
}

/// A `berth serve` process on free loopback ports, for tests that need a real server: its
/// output is read on a thread of its own and kept, its ports come from its Ready lines.
final class ServerProcess: Sendable {
    let process: Process
    let folder: String
    let gatewayPort: Int
    let adminURL: String
    let lines: OutputLines

    /// Everything the server printed so far.
    var output: [String] { lines.storage.withLock { $0 } }

    final class OutputLines: Sendable {
        let storage = Mutex<[String]>([])
        func append(_ line: String) { storage.withLock { $0.append(line) } }
    }

    private init(process: Process, folder: String, gatewayPort: Int, adminURL: String, lines: OutputLines) {
        self.process = process
        self.folder = folder
        self.gatewayPort = gatewayPort
        self.adminURL = adminURL
        self.lines = lines
    }

    static var executable: URL { DevCommandTests.executable }

    /// Starts `berth serve FOLDER --port 0 --admin-port 0` and returns once both listen.
    static func start(folder: String, arguments: [String] = [], environment: [String: String] = [:]) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", folder, "--port", "0", "--admin-port", "0"] + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let lines = OutputLines()
        let handle = output.fileHandleForReading
        let ready: (Int, String)? = await withCheckedContinuation { continuation in
            // Resumed once: with both addresses, or with nil when the output ends first.
            let found = Mutex<(gateway: Int?, admin: String?, resumed: Bool)>((nil, nil, false))
            followLines(handle, onLine: { line in
                lines.append(line)
                let both: (Int, String)? = found.withLock { found in
                    if line.contains("Ready on http"), let range = line.range(of: "://127.0.0.1:") { found.gateway = Int(line[range.upperBound...]) }
                    if let range = line.range(of: "Admin API on ") {
                        found.admin = line[range.upperBound...].split(separator: "/api").first.map(String.init)
                    }
                    guard !found.resumed, let gateway = found.gateway, let admin = found.admin else { return nil }
                    found.resumed = true
                    return (gateway, admin)
                }
                if let both { continuation.resume(returning: both) }
            }, onEnd: {
                if found.withLock({ state in defer { state.resumed = true }; return !state.resumed }) { continuation.resume(returning: nil) }
            })
        }
        guard let (gateway, admin) = ready else {
            throw BerthError(.internal, "berth serve did not get ready: \(lines.storage.withLock { $0 }.joined(separator: "\n"))")
        }
        return ServerProcess(process: process, folder: folder, gatewayPort: gateway, adminURL: admin, lines: lines)
    }

    var token: String {
        (try? String(contentsOfFile: folder + "/.berth/admin-token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// SIGKILL: the server gets no chance to clean up.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits for the exit; SIGKILL (and a recorded issue) after 30 s.
    func stop() {
        if process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            Issue.record("berth serve did not exit within 30 s of SIGTERM")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(gatewayPort)\(path)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(90))
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    /// An admin API request with the given token (none: no Authorization header).
    func admin(_ path: String, method: HTTPMethod = .GET, token: String?) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: adminURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }
}

/// The result of running the `berth` binary.
struct CommandResult {
    var status: Int32
    var output: String
    var errors: String

    func json<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(output.utf8))
    }
}

/// Sends SIGINT to a running `berth` command when the test says so.
final class Interrupter: Sendable {
    private let state = Mutex<(pid: Int32?, fired: Bool)>((nil, false))

    func attach(_ pid: Int32) {
        let fireNow = state.withLock { state in
            state.pid = pid
            return state.fired
        }
        if fireNow { kill(pid, SIGINT) }
    }

    func fire() {
        let pid = state.withLock { state in
            state.fired = true
            return state.pid
        }
        if let pid { kill(pid, SIGINT) }
    }
}

/// Runs `berth ARGUMENTS` to the end, off the cooperative pool (reads block).
/// `interruptAfter` sends SIGINT after that long, `interrupter` when it fires (for commands
/// that run until interrupted). `input`: the file standard input reads.
func berth(
    _ arguments: [String], in folder: String? = nil, environment: [String: String] = [:], interruptAfter: Duration? = nil,
    interrupter: Interrupter? = nil, input: String = "/dev/null"
) async throws -> CommandResult {
    let process = Process()
    process.executableURL = ServerProcess.executable
    process.arguments = arguments
    if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle(forReadingAtPath: input)
    try process.run()
    interrupter?.attach(process.processIdentifier)
    if let interruptAfter {
        let seconds = Double(interruptAfter.components.seconds)
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
            if process.isRunning { kill(process.processIdentifier, SIGINT) }
        }
    }
    return await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            let errorData = Mutex(Data())
            let group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async {
                let data = errors.fileHandleForReading.readDataToEndOfFile()
                errorData.withLock { $0 = data }
                group.leave()
            }
            let out = output.fileHandleForReading.readDataToEndOfFile()
            group.wait()
            process.waitUntilExit()
            continuation.resume(returning: CommandResult(
                status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                errors: String(decoding: errorData.withLock { $0 }, as: UTF8.self)
            ))
        }
    }
}

/// The instance id the example server puts in its greeting.
func instanceID(in body: String) -> String? {
    body.range(of: "my instance ID is: ").map { String(body[$0.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines) }
}
