import AsyncHTTPClient
import BerthConfig
import BerthCore
import BerthRuntime
import BerthTestSupport
import DockerEngine
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `enableInternet = false` on the real engine: the container starts, Berth reaches it at its
/// own address, and it can connect neither to the host nor to another container.
@Suite("Containers without internet on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct NoInternetEngineTests {
    /// A container that, once started, tries to connect to each of `targets` (`host:port`)
    /// and serves what it found on 8080: `host:port=open` or `=closed`.
    func prober(_ f: EngineFixture, _ image: String, targets: [String], enableInternet: Bool) -> InstanceSpec {
        let script = """
            /bin/busybox mkdir -p /www; r=""
            for t in \(targets.joined(separator: " ")); do
              out=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 ${t%:*} ${t#*:} 2>/dev/null | /bin/busybox head -c 64)
              if [ -n "$out" ]; then r="$r $t=open"; else r="$r $t=closed"; fi
            done
            echo "$r" > /www/index.html; exec /bin/busybox httpd -f -p 8080 -h /www
            """
        return InstanceSpec(
            image: image, entrypoint: ["/bin/busybox", "sh", "-c", script], labels: f.labels, ports: [8080], enableInternet: enableInternet
        )
    }


    /// The gateway of the network `address` lies on: the bridge's address on the host.
    func gateway(of address: String) -> String {
        address.split(separator: ".").dropLast().joined(separator: ".") + ".1"
    }

    @Test("it starts and Berth reaches it; it cannot connect to a listener on the host's addresses nor to another container; cleaned up after")
    func isolated() async throws {
        try await EngineFixture.with { f in
            let image = try await f.webImage()
            let network = "berth-test-\(f.runID)"
            f.track(network: network)
            let driver = DockerRuntime(client: f.client, isolatedNetwork: network)
            // A server on every address of the host, as a database left open would be.
            let port = try LoopbackPort.free()
            let listener = Process()
            listener.executableURL = URL(fileURLWithPath: "/bin/busybox")
            listener.arguments = ["nc", "-ll", "-p", "\(port)", "-e", "/bin/echo", "host-reached"]
            // Its output must not hold the test's; it ignores SIGTERM in this mode.
            listener.standardOutput = FileHandle.nullDevice
            listener.standardError = FileHandle.nullDevice
            try listener.run()
            defer {
                kill(listener.processIdentifier, SIGKILL)
                listener.waitUntilExit()
            }

            // The first container: nothing published, reached at its own address.
            let peer = try await driver.startInstance(prober(f, image, targets: [], enableInternet: false))
            let peerEndpoint = try #require(peer.endpoints[8080])
            #expect(peerEndpoint.host != "127.0.0.1")
            #expect(try await containerPage(peerEndpoint) == "")
            let details = try await f.client.inspectContainer(peer.containerID)
            #expect(details.hostConfig.networkMode == network)

            // A container that has the internet reaches the host listener: the probe works.
            let first = try await driver.startInstance(prober(f, image, targets: [], enableInternet: true))
            let bridgeGateway = gateway(of: try #require(try await f.client.inspectContainer(first.containerID).networkAddresses["bridge"]))
            await driver.removeInstance(first.containerID)
            let control = try await driver.startInstance(prober(f, image, targets: ["\(bridgeGateway):\(port)"], enableInternet: true))
            #expect(try await containerPage(control.endpoints[8080]!) == "\(bridgeGateway):\(port)=open")

            // The second isolated container: the host (through its own bridge and the default
            // one) and the first container stay closed; Berth still reaches it.
            let isolatedGateway = gateway(of: peerEndpoint.host)
            let targets = ["\(isolatedGateway):\(port)", "\(bridgeGateway):\(port)", "\(peerEndpoint.host):8080"]
            let probing = try await driver.startInstance(prober(f, image, targets: targets, enableInternet: false))
            #expect(try await containerPage(probing.endpoints[8080]!) == targets.map { "\($0)=closed" }.joined(separator: " "))

            // The runtime's own reading of the container (after a restart of Berth) finds the same address.
            let adopted = try await driver.runningInstance(probing.containerID)
            #expect(adopted.endpoints == probing.endpoints)

            // Released once no container uses them: the network and its firewall rules.
            let bridge = "br-" + (try await f.client.listNetworks().first { $0.name == network }!.id.prefix(12))
            #expect(try Self.firewallRules().contains { $0.contains(bridge) })
            for instance in [peer, control, probing] { await driver.removeInstance(instance.containerID) }
            await driver.releaseUnused()
            #expect(try await f.client.listNetworks().contains { $0.name == network } == false)
            #expect(try Self.firewallRules().contains { $0.contains(bridge) } == false)
        }
    }

    /// `iptables -S` of the filter table.
    static func firewallRules() throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/iptables")
        process.arguments = ["-w", "5", "-S"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
