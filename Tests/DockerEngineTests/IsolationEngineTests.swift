import AsyncHTTPClient
import BerthConfig
import BerthCore
import BerthRuntime
import BerthTestSupport
import DockerEngine
import Foundation
import Testing

/// Container isolation on the real engine: what `docker inspect` shows, the pids limit from
/// inside, a fork bomb next to a serving container, and `enableInternet = false`.
@Suite("Container isolation on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct IsolationEngineTests {
    /// An instance of `image` whose shell `script` ends by serving `/www` on `port`.
    func spec(_ f: EngineFixture, _ image: String, _ script: String, port: Int = 8080) -> InstanceSpec {
        InstanceSpec(
            image: image, entrypoint: ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /www; \(script)"],
            labels: f.labels, ports: [port], nanoCPUs: 500_000_000
        )
    }


    @Test("by default: PidsLimit 512, CapDrop ALL, no-new-privileges; a read-only root keeps /tmp writable; port 80 gets NET_BIND_SERVICE")
    func inspected() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            let plain = try await driver.startInstance(spec(f, image, "echo plain > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www"))
            let config = try await f.client.inspectContainer(plain.containerID).hostConfig
            #expect(config.pidsLimit == 512)
            #expect(config.capDrop == ["ALL"])
            #expect(config.capAdd == [])
            #expect(config.securityOptions == ["no-new-privileges"])
            #expect(config.readOnlyRootfs == false)
            #expect(try await containerPage(plain.endpoints[8080]!) == "plain")

            var isolation = ContainerIsolation()
            isolation.readOnlyRoot = true
            isolation.pidsLimit = 0
            isolation.noNewPrivileges = false
            var readOnly = spec(f, image, """
                /bin/busybox touch /root-file 2>/dev/null && r=writable || r=read-only
                /bin/busybox touch /tmp/file && t=writable || t=read-only
                /bin/busybox mkdir -p /tmp/www; echo "root=$r tmp=$t" > /tmp/www/index.html; exec /bin/busybox httpd -f -p 80 -h /tmp/www
                """, port: 80)
            readOnly.isolation = isolation
            let second = try await driver.startInstance(readOnly)
            let details = try await f.client.inspectContainer(second.containerID).hostConfig
            #expect(details.readOnlyRootfs)
            #expect(details.tmpfs.keys.sorted() == ["/tmp"])
            #expect(details.capAdd == ["NET_BIND_SERVICE"])
            #expect(details.pidsLimit == 0)
            #expect(details.securityOptions == [])
            // httpd binds port 80 with NET_BIND_SERVICE alone; only /tmp can be written.
            #expect(try await containerPage(second.endpoints[80]!) == "root=read-only tmp=writable")
        }
    }

    @Test("logs rotate: a chatty container's output on disk stays under max_size × max_files")
    func logRotation() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            var chatty = spec(f, image, """
                (i=0; while [ $i -lt 20000 ]; do echo "line $i of a container that talks too much, padded to about a hundred bytes......"; i=$((i+1)); done; echo done) &
                echo up > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www
                """)
            chatty.isolation.logs = ContainerLogs(maxSizeBytes: 64 << 10, maxFiles: 2)
            let instance = try await driver.startInstance(chatty)
            let details = try await f.client.inspectContainer(instance.containerID).hostConfig
            #expect(details.logDriver == "json-file")
            #expect(details.logOptions == ["max-size": "65536", "max-file": "2"])
            // The defaults, for a class that says nothing.
            let plain = try await driver.startInstance(spec(f, image, "echo plain > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www"))
            #expect(try await f.client.inspectContainer(plain.containerID).hostConfig.logOptions == ["max-size": "10485760", "max-file": "3"])

            // About 2 MB written (20,000 lines, each some 160 bytes as the driver stores it):
            // the last lines are there, the files hold at most 2 × 64 KiB.
            var tail: [String] = []
            for _ in 0..<100 {
                tail = try await Self.lastLines(f, instance.containerID)
                if tail.contains(where: { $0.contains("done") }) { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(tail.contains { $0.contains("done") })
            let logPath = try await Self.logPath(f, instance.containerID)
            guard FileManager.default.isReadableFile(atPath: logPath) else {
                Issue.record("cannot read \(logPath) to measure it (the engine's folder needs root)")
                return
            }
            let folder = (logPath as NSString).deletingLastPathComponent
            let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix((logPath as NSString).lastPathComponent) }
            let total = try files.reduce(Int64(0)) { sum, name in
                sum + ((try FileManager.default.attributesOfItem(atPath: folder + "/" + name)[.size] as? NSNumber)?.int64Value ?? 0)
            }
            #expect(files.count <= 2, "\(files)")
            // One line may take a file just past its size before it rotates.
            #expect(total <= 2 * (64 << 10) + 4096, "\(total) bytes in \(files)")
        }
    }

    /// The last lines of a container's output, through the engine's log API.
    static func lastLines(_ f: EngineFixture, _ id: String) async throws -> [String] {
        var lines: [String] = []
        for try await line in try await f.client.logLines(id, options: LogOptions(tail: 5)) { lines.append(line.text) }
        return lines
    }

    static func logPath(_ f: EngineFixture, _ id: String) async throws -> String {
        try await f.client.inspectContainer(id).logPath
    }

    @Test("the pids limit holds inside the container: forking past it fails")
    func pidsLimit() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            // A child shell starts 40 sleeps, writing after each how many it started; it dies
            // at the first fork that fails. Once the sleeps are over, the page shows the count.
            var limited = spec(f, image, """
                /bin/busybox sh -c 'i=0; while [ $i -lt 40 ]; do /bin/busybox sleep 2 & i=$((i+1)); echo $i > /www/started; done' 2>/dev/null
                /bin/busybox sleep 3; read n < /www/started
                echo "sleeping=$n" > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www
                """)
            limited.isolation.pidsLimit = 16
            let instance = try await driver.startInstance(limited)
            let text = try await containerPage(instance.endpoints[8080]!)
            let sleeping = try #require(Int(text.dropFirst("sleeping=".count).prefix { $0.isNumber }), "\(text)")
            // 40 asked for; the two shells hold 2 of the 16.
            #expect(sleeping > 0 && sleeping <= 14, "\(text)")
        }
    }

    @Test("a fork bomb in one container leaves the host and another container serving")
    func forkBomb() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let driver = DockerRuntime(client: f.client)
            let neighbour = try await driver.startInstance(spec(f, image, "echo neighbour > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www"))
            #expect(try await containerPage(neighbour.endpoints[8080]!) == "neighbour")
            var bomb = InstanceSpec(
                image: image, entrypoint: ["/bin/busybox", "sh", "-c", "(b() { b | b & }; b) & exec /bin/busybox sleep 3600"],
                labels: f.labels, ports: [], nanoCPUs: 500_000_000
            )
            bomb.isolation.pidsLimit = 32
            // The bomb runs in a subshell and the container's own process is `sleep`: a shell
            // that cannot fork exits (code 2), which must end a bomb shell, not the container.
            let bombing = try await driver.startInstance(bomb)
            // The bomb keeps forking (more than half its limit at once, as the engine counts
            // them) and never holds more than its limit; meanwhile the neighbour answers every
            // request and the host still starts processes.
            var counts: [Int] = []
            for _ in 0..<10 {
                counts.append(try await f.client.containerStats(bombing.containerID).pids)
                #expect(try await containerPage(neighbour.endpoints[8080]!, within: 10) == "neighbour")
            }
            #expect(counts.max()! > 16 && counts.max()! <= 32, "\(counts)")
            #expect(try await f.client.inspectContainer(bombing.containerID).state.running)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/busybox")
            process.arguments = ["true"]
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            try await f.client.removeContainer(bombing.containerID, force: true)
        }
    }
}
