import Foundation
import Testing

private func runProgram(_ path: String, _ arguments: [String], in folder: String? = nil) throws -> BerthRun {
    try BerthRun.run(program: path, arguments, in: folder)
}

private let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

@Suite(
    "The systemd unit and make install",
    .enabled(if: systemdAnalyze != nil || ProcessInfo.processInfo.environment["CI"] != nil, "no systemd-analyze here; `make test` installs it")
)
struct ServiceUnitTests {
    /// `make install` into a temporary prefix, with the binary of this build.
    static func install() throws -> (root: String, unit: String, binary: String) {
        let root = NSTemporaryDirectory() + "berth-install-\(UUID().uuidString)"
        let run = try runProgram("/usr/bin/env", [
            "make", "--no-print-directory", "install", "BERTH_BIN=\(BerthRun.executable.path)", "PREFIX=\(root)/usr", "SYSTEMD_UNIT_DIR=\(root)/units",
        ], in: repositoryRoot.path)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        return (root, root + "/units/berth@.service", root + "/usr/bin/berth")
    }

    @Test("make install places the binary and the unit naming it; systemd-analyze verify finds nothing to say")
    func verify() throws {
        let (root, unit, binary) = try Self.install()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let attributes = try FileManager.default.attributesOfItem(atPath: unit)
        #expect((attributes[.posixPermissions] as? Int) == 0o644)
        #expect(FileManager.default.isExecutableFile(atPath: binary))
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains("ExecStart=\(binary) serve %f"))
        #expect(lines.contains("Restart=on-failure"))
        #expect(lines.contains("StandardOutput=journal") && lines.contains("StandardError=journal"))
        #expect(lines.contains("KillSignal=SIGTERM"))
        #expect(!text.contains("@BERTH@"))

        // Verified as an instance for a project folder, as `systemctl enable` would name it.
        let analyze = try #require(systemdAnalyze)
        let escaped = try runProgram("/usr/bin/env", ["systemd-escape", "--path", "/srv/my-app"])
        let instanceName = escaped.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(instanceName == #"srv-my\x2dapp"#)
        let instance = root + "/units/berth@\(instanceName).service"
        try FileManager.default.copyItem(atPath: unit, toPath: instance)
        let verified = try runProgram(analyze, ["verify", "--man=no", instance])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stderr.isEmpty && verified.stdout.isEmpty, "\(verified.stdout)\(verified.stderr)")
    }

    @Test("the unit's command serves a project folder and ends cleanly on systemd's stop signal", .enabled(if: FileManager.default.fileExists(atPath: "/var/run/docker.sock") || ProcessInfo.processInfo.environment["BERTH_REQUIRE_ENGINE"] == "1"))
    func serves() async throws {
        let (root, unit, _) = try Self.install()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let folder = root + "/my-app"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try #"{ "name": "svc-unit-test", "berth": { "port": 0, "admin_port": 0 } }"#.write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)

        // ExecStart and WorkingDirectory as systemd expands them (%f: the unescaped instance path).
        let lines = try String(contentsOfFile: unit, encoding: .utf8).split(separator: "\n").map(String.init)
        let exec = try #require(lines.first { $0.hasPrefix("ExecStart=") }).dropFirst("ExecStart=".count).replacingOccurrences(of: "%f", with: folder)
        let directory = try #require(lines.first { $0.hasPrefix("WorkingDirectory=") }).dropFirst("WorkingDirectory=".count).replacingOccurrences(of: "%f", with: folder)
        let words = exec.split(separator: " ").map(String.init)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: words[0])
        process.arguments = Array(words.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let log = root + "/serve.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Serving once it wrote where it listens (at most 60 s).
        let serverFile = folder + "/.berth/server.json"
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: serverFile) && process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        let output = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(FileManager.default.fileExists(atPath: serverFile), "\(output())")
        #expect(process.isRunning, "\(output())")
        process.terminate()  // SIGTERM, the unit's KillSignal
        for _ in 0..<300 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!process.isRunning)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(output())")
    }
}
