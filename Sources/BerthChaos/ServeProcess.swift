import AsyncHTTPClient
import BerthCore
import BerthTestSupport
import Foundation
import NIOCore

/// `berth serve` as a separate process (so that `kill -9` hits it and nothing else), on fixed
/// loopback ports so that a restart answers on the same URLs. Its output goes to a log file
/// under chaos/out/logs.
final class ServeProcess: @unchecked Sendable {
    let project: Project
    let gateway: String
    let admin: String
    let ports: (gateway: Int, admin: Int)
    let dockerHost: String?
    private let berth: String
    private let log: String
    private let http: HTTPClient
    private let process = Process()

    init(berth: String, project: Project, log: String, ports: (gateway: Int, admin: Int)?, dockerHost: String?, http: HTTPClient) throws {
        self.berth = berth
        self.project = project
        self.log = log
        self.http = http
        self.dockerHost = dockerHost
        self.ports = try ports ?? (LoopbackPort.free(), LoopbackPort.free())
        gateway = "http://127.0.0.1:\(self.ports.gateway)"
        admin = "http://127.0.0.1:\(self.ports.admin)"
        process.executableURL = URL(fileURLWithPath: berth)
        process.arguments = ["serve", project.folder, "--port", "\(self.ports.gateway)", "--admin-port", "\(self.ports.admin)", "--stop-containers"]
        Self.prepare(process, log: log, dockerHost: dockerHost)
        try process.run()
    }

    /// The same server started again (after `kill -9`).
    func restarted() throws -> ServeProcess {
        try ServeProcess(berth: berth, project: project, log: log, ports: ports, dockerHost: dockerHost, http: http)
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// Waits until the admin API answers (at most 90 s).
    func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw BerthError(.internal, "berth serve exited with \(process.terminationStatus) before it was ready; see \(log)")
            }
            if (try? await adminJSON("/api/server")) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BerthError(.timeout, "berth serve did not answer within 90 s; see \(log)")
    }

    /// A GET on the admin API with the folder's token, as JSON.
    func adminJSON(_ path: String) async throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try await adminText(path).utf8))
    }

    /// A GET on the admin API with the folder's token.
    func adminText(_ path: String) async throws -> String {
        let token = try String(contentsOfFile: project.folder + "/.berth/admin-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var request = HTTPClientRequest(url: admin + path)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status.code == 200 else { throw BerthError(.internal, "GET \(path) answered \(response.status.code): \(String(buffer: body))") }
        return String(buffer: body)
    }

    /// The live instances the admin API lists for the class: object id → (instance, container).
    func instances() async throws -> [String: (instance: String, container: String, state: String)] {
        guard let list = try await adminJSON("/api/containers/\(project.className)/instances") as? [[String: Any]] else { return [:] }
        var instances: [String: (String, String, String)] = [:]
        for item in list {
            guard let object = item["object_id"] as? String, let instance = item["instance"] as? String, instance != "-" else { continue }
            instances[object] = (instance, item["container_id"] as? String ?? "", item["state"] as? String ?? "")
        }
        return instances
    }

    func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGINT (the server drains and, with --stop-containers, stops its containers), then
    /// SIGKILL after 60 s.
    func stop() {
        guard process.isRunning else { return }
        process.interrupt()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        kill9()
    }

    static func prepare(_ process: Process, log: String, dockerHost: String?) {
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let output = FileHandle(forWritingAtPath: log)
        output?.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        if let dockerHost {
            var environment = ProcessInfo.processInfo.environment
            environment["DOCKER_HOST"] = dockerHost
            process.environment = environment
        }
    }

    /// Runs a berth command to its end (at most 10 minutes) and returns its exit status.
    static func runToEnd(_ berth: String, _ arguments: [String], log: String, dockerHost: String?) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: berth)
        process.arguments = arguments
        prepare(process, log: log, dockerHost: dockerHost)
        try process.run()
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }
}
