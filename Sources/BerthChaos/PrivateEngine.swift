import BerthCore
import DockerEngine
import Foundation
import Logging

/// A dockerd of the suite's own, so that the engine-restart scenario never stops the engine
/// the machine's other users rely on: its own unix socket, data, exec root and pid file under
/// /run/berth-chaos-<run>, its own bridge, and no iptables rules (published ports go through
/// docker-proxy). Needs root, as dockerd does.
final class PrivateEngine: @unchecked Sendable {
    let folder: String
    let bridge: String
    let subnet: String
    let log: String
    var dockerHost: String { "unix://\(folder)/docker.sock" }
    private(set) var client: DockerClient?
    private var process: Process?

    init(run: String, log: String) {
        folder = "/run/berth-chaos-\(run)"
        bridge = "bchaos\(run.prefix(8))"
        // A /24 in 10.213.0.0/16 that no route uses yet.
        let routes = (try? String(contentsOfFile: "/proc/net/route", encoding: .utf8)) ?? ""
        let third = (1..<255).first { third in
            // /proc/net/route holds destinations as little-endian hex: 10.213.x.0 → 00 x D5 0A.
            !routes.contains(String(format: "00%02XD50A", third))
        } ?? 254
        subnet = "10.213.\(third).1/24"
        self.log = log
    }

    /// Creates the bridge and starts dockerd; returns once it answers (at most 60 s).
    func start() async throws {
        if process == nil {
            guard getuid() == 0 else { throw BerthError(.invalidInput, "a private dockerd needs root") }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
                try Self.run("/sbin/ip", ["link", "add", bridge, "type", "bridge"])
                try Self.run("/sbin/ip", ["addr", "add", subnet, "dev", bridge])
                try Self.run("/sbin/ip", ["link", "set", bridge, "up"])
            }
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/dockerd")
        process.arguments = [
            "-H", dockerHost, "--data-root", folder + "/data", "--exec-root", folder + "/exec", "--pidfile", folder + "/docker.pid",
            "--bridge", bridge, "--iptables=false", "--ip-masq=false",
        ]
        ServeProcess.prepare(process, log: log, dockerHost: nil)
        try process.run()
        self.process = process
        if client == nil {
            var logger = Logger(label: "chaos.engine")
            logger.logLevel = .error
            client = DockerClient(host: .unix(path: folder + "/docker.sock"), logger: logger)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await client!.ping()) != nil { return }
            guard process.isRunning else { throw BerthError(.internal, "the private dockerd exited with \(process.terminationStatus); see \(log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BerthError(.timeout, "the private dockerd did not answer within 60 s; see \(log)")
    }

    /// SIGTERM to this dockerd (its own pid), as `systemctl stop docker` does; waits for its end
    /// (SIGKILL after 60 s).
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Stops it and removes everything it had: containers (with dockerd), mounts left under its
    /// folder, the folder, the bridge.
    func destroy() async {
        if let client, process?.isRunning == true {
            for container in (try? await client.listContainers(all: true)) ?? [] { try? await client.removeContainer(container.id, force: true) }
            try? await client.shutdown()
        }
        stop()
        let mounts = ((try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            .filter { $0.hasPrefix(folder + "/") }
            .sorted { $0.count > $1.count }
        for mount in mounts { try? Self.run("/bin/umount", ["-l", mount]) }
        try? FileManager.default.removeItem(atPath: folder)
        try? Self.run("/sbin/ip", ["link", "del", bridge])
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BerthError(.internal, "\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }
}
