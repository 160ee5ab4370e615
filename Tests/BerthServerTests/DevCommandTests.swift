import AsyncHTTPClient
import BerthCore
import DockerEngine
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite("berth dev as a process", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct DevCommandTests {
    static var executable: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while url.path != "/" && !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("berth").path) {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("berth")
    }

    @Test("builds, prints the URL, serves, and on SIGTERM stops and removes every container it started")
    func devLifecycle() async throws {
        let project = try ExampleProject(prefix: "dev", berth: #"{ "instance_get_timeout": "60s", "classes": { "MyContainer": { "env_vars": { "MESSAGE": "dev" } } } }"#)
        defer { project.remove() }
        let (app, folder) = (project.app, project.folder)

        let dev = try await DevProcess.start(folder: folder)
        defer { dev.watchdog.cancel() }
        let process = dev.process
        let client = try DockerClient()
        do {
            let port = dev.port
            #expect(port > 0, "no Ready line: \(dev.output)")
            #expect(dev.output.contains { $0.contains("step 1/") })

            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/container/1"), timeout: .seconds(30))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
            #expect(response.status.code == 200)
            #expect(body.contains("\"dev\""))
            #expect(try await client.listContainers(labels: ["\(BerthLabel.app)=\(app)"]).count == 1)

            process.terminate()  // SIGTERM
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
        } catch {
            if process.isRunning { process.terminate() }
            throw error
        }
        for container in (try? await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeContainer(container.id, force: true)
        }
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true, prune: false)
        }
        try await client.shutdown()
    }

    @Test("a port in use is a one-line error and exit 1, and nothing is left running")
    func portInUse() async throws {
        let project = try ExampleProject(prefix: "dev")
        defer { project.remove() }
        let (app, folder) = (project.app, project.folder)

        // Hold a loopback port.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))

        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["dev", folder, "--port", String(port), "--admin-port", "0"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(stderr.contains("error: cannot listen on 127.0.0.1:\(port): the address is in use; stop what uses it, or pick another port with --port"), "\(stderr)")

        let client = try DockerClient()
        #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true, prune: false)
        }
        try await client.shutdown()
    }

    @Test("a Dockerfile whose base image cannot be pulled: the engine's reason on stderr and exit 1, no crash, nothing left running")
    func unpullableBaseImage() async throws {
        let project = try ExampleProject(prefix: "dev")
        defer { project.remove() }
        let (app, folder) = (project.app, project.folder)
        // A name under .invalid never resolves, on any machine: the pull fails as it does for
        // a user whose engine cannot reach the base image's registry.
        try "FROM berth-test.invalid/no-such-base:1\nCOPY server /server\nEXPOSE 8080\nCMD [\"/server\"]\n"
            .write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["dev", folder, "--port", "0", "--admin-port", "0"]
        let errors = Pipe()
        let output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(180))
            if process.isRunning { process.terminate() }
        }
        defer { watchdog.cancel() }
        async let stdoutData = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }.value
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stdout = String(decoding: await stdoutData, as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 1, "stdout: \(stdout)\nstderr: \(stderr)")
        // The engine's reason, under Berth's: which container, and what the engine said of the base image.
        #expect(stderr.contains("error: the image of container web did not build:"), "\(stderr)")
        #expect(stderr.contains("berth-test.invalid"), "\(stderr)")
        #expect(!stderr.contains("Fatal error") && !stderr.contains("not shut down") && !stderr.contains("Backtrace"), "\(stderr)")
        #expect(!stdout.contains("Ready on"), "\(stdout)")

        let client = try DockerClient()
        #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
        try await client.shutdown()
    }

    @Test("SIGTERM during the build ends berth dev without finishing it: exit 0, nothing deployed, nothing left")
    func signalDuringBuild() async throws {
        let project = try ExampleProject(prefix: "dev")
        defer { project.remove() }
        let (app, folder) = (project.app, project.folder)
        let busybox = try #require(["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.fileExists(atPath: $0) }, "busybox-static is missing")
        try FileManager.default.copyItem(atPath: busybox, toPath: folder + "/busybox")
        // A build that takes a minute: the signal comes while it runs.
        try "FROM scratch\nLABEL berth.test.project=\(app)\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sleep\", \"60\"]\nCOPY server /server\nEXPOSE 8080\nCMD [\"/server\"]\n"
            .write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)

        let (process, handle) = try DevProcess.launch(folder: folder)
        let watchdog = Task {
            try await Task.sleep(for: .seconds(180))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }
        // Read until the long step starts, then send SIGTERM.
        let lines = Mutex<[String]>([])
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            followLines(handle, onLine: { line in
                let first = lines.withLock { lines in
                    defer { lines.append(line) }
                    return line.contains("sleep") && !lines.contains { $0.contains("sleep") }
                }
                if first { process.terminate() }
            }, onEnd: { continuation.resume() })
        }
        process.waitUntilExit()
        let said = lines.withLock { $0 }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "\(said)")
        #expect(said.contains { $0.contains("sleep") }, "the long step began: \(said)")
        #expect(!said.contains { $0.hasPrefix("Deployed") || $0.hasPrefix("Ready on") }, "\(said)")

        let client = try DockerClient()
        #expect(try await client.listContainers(all: true, labels: ["\(BerthLabel.app)=\(app)"]).isEmpty)
        for image in (try? await client.listImages(labels: ["\(BerthLabel.app)=\(app)"])) ?? [] {
            try? await client.removeImage(image.id, force: true, prune: false)
        }
        try await client.shutdown()
    }
}
