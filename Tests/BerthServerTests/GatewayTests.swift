import AsyncHTTPClient
import BerthAPI
import BerthConfig
@testable import BerthControlPlane
import BerthCore
import BerthRuntime
@testable import BerthServer
import DockerEngine
import Foundation
import NIOCore
import Testing

@Suite("The request path on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct GatewayTests {
    @Test("50 concurrent first requests to one object start exactly one container, and all are answered by it")
    func singleFlight() async throws {
        try await GatewayFixture.with { f in
            let replies = try await withThrowingTaskGroup(of: GatewayFixture.Reply.self) { group in
                for _ in 0..<50 { group.addTask { try await f.request("/container/stampede") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            let instanceIDs = Set(replies.map { $0.body.components(separatedBy: "instance ID is: ").last ?? "" })
            #expect(instanceIDs.count == 1)
            let id = f.myContainer.idFromName("/container/stampede")
            #expect(try await f.engineContainers(object: id).count == 1)
            #expect(try await f.engineContainers().count == 1)
            #expect(await f.myContainer.get(id).status == .healthy)
        }
    }

    @Test("the container sees its env vars, Cloudflare's variables and Berth's labels; the proxy adds forwarding headers")
    func environment() async throws {
        try await GatewayFixture.with { f in
            let reply = try await f.request("/container/env")
            #expect(reply.status == 200)
            #expect(reply.body.hasPrefix("Hi, I'm a container and this is my message: \"from the test\", my instance ID is: "))
            let id = f.myContainer.idFromName("/container/env")
            let controller = f.myContainer.get(id)
            let instanceID = try #require(await controller.instanceID)
            #expect(reply.body.hasSuffix("\(instanceID)\n"))

            let containerID = try #require(await controller.containerID)
            let details = try await f.client.inspectContainer(containerID)
            #expect(details.environmentValue("CLOUDFLARE_DEPLOYMENT_ID") == instanceID)
            #expect(details.environmentValue("CLOUDFLARE_DURABLE_OBJECT_ID") == id.hex)
            #expect(details.environmentValue("BERTH_OBJECT_ID") == id.hex)
            #expect(details.environmentValue("BERTH_INSTANCE_ID") == instanceID)
            #expect(details.environmentValue("CLOUDFLARE_APPLICATION_ID")?.count == 64)
            #expect(details.environmentValue("CLOUDFLARE_LOCATION") != nil)
            #expect(details.environmentValue("CLOUDFLARE_REGION") != nil)
            #expect(details.config.labels[BerthLabel.app] == f.app)
            #expect(details.config.labels[BerthLabel.className] == "MyContainer")
            #expect(details.config.labels[BerthLabel.object] == id.hex)
            #expect(details.config.labels[BerthLabel.instance] == instanceID)
            #expect(details.ports["8080/tcp"]?.allSatisfy { $0.hostIP == "127.0.0.1" } == true)
            // Published on loopback only, and proxied to at the container's own address, which
            // answers from this machine: the engine's userland port proxy is not in the path.
            let lease = try await controller.acquire()
            #expect(lease.endpoint == Endpoint(host: try #require(details.networkAddresses["bridge"]), port: 8080))
            await lease.release()
            // lite: 256 MiB, 1/16 vCPU
            #expect(details.hostConfig.memoryBytes == 256 << 20)
            #expect(details.hostConfig.nanoCPUs == 62_500_000)

            let head = try await f.request("/container/env/headers", headers: [("Connection", "x-drop-me"), ("X-Drop-Me", "1"), ("X-Keep", "2")])
            #expect(head.body.contains("Host: container\r\n"))
            #expect(head.body.contains("X-Forwarded-For: 127.0.0.1\r\n"))
            #expect(head.body.contains("X-Forwarded-Proto: http\r\n"))
            #expect(head.body.contains("X-Keep: 2\r\n"))
            #expect(!head.body.lowercased().contains("x-drop-me"))
        }
    }

    @Test("request and response bodies stream through unchanged")
    func bodies() async throws {
        try await GatewayFixture.with { f in
            var payload = ByteBuffer()
            for i in 0..<(5 << 20) / 8 { payload.writeInteger(UInt64(i)) }
            let reply = try await f.request("/container/echo", method: "POST", body: payload)
            #expect(reply.status == 200)
            #expect(reply.bytes.readableBytes == 5 << 20)
            let identical = reply.bytes == payload
            #expect(identical, "the echoed body differs from what was sent")
        }
    }

    @Test("max_instances is held: the next object gets 503 with Cloudflare's wording and Retry-After")
    func maxInstances() async throws {
        try await GatewayFixture.with(maxInstances: 1) { f in
            #expect(try await f.request("/container/a").status == 200)
            let refused = try await f.request("/container/b")
            #expect(refused.status == 503)
            #expect(refused.body.hasPrefix("There is no Container instance available at this time"))
            #expect(refused.header("Retry-After") == "1")
            #expect(try await f.engineContainers().count == 1)
            // The running object keeps being served.
            #expect(try await f.request("/container/a").status == 200)
        }
    }

    @Test("max_instances holds under concurrency: 12 objects at once, exactly 2 start, the rest get 503")
    func maxInstancesConcurrent() async throws {
        try await GatewayFixture.with(maxInstances: 2) { f in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<12 { group.addTask { try await f.request("/container/burst-\(i)").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 2)
            #expect(statuses.filter { $0 == 503 }.count == 10)
            #expect(try await f.engineContainers().count == 2)
            #expect(f.myContainer.budget.inUse == 2)
        }
    }

    @Test("more containers than the engine client's default connection pool (8) run and stop")
    func manyContainers() async throws {
        try await GatewayFixture.with { f in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<12 { group.addTask { try await f.request("/container/many-\(i)").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 12))
            // Each running container holds a `wait` on the engine; more requests must still get through.
            let next = try await f.request("/container/many-next")
            #expect(next.status == 200, "\(next.body)")
            await f.platform.shutdown()
            #expect(try await f.engineContainers().isEmpty)
        }
    }

    @Test("start options override env vars and add labels for one start")
    func startOptions() async throws {
        try await GatewayFixture.with { f in
            let controller = f.myContainer.getByName("/container/options")
            let options = StartOptions(envVars: ["MESSAGE": "per start"], entrypoint: ["/server", "--unused-flag"], labels: ["team": "blue"])
            try await controller.startAndWaitForPorts(options)
            #expect(await controller.status == .healthy)
            let reply = try await f.request("/container/options")
            #expect(reply.body.contains("\"per start\""))
            let details = try await f.client.inspectContainer(try #require(await controller.containerID))
            #expect(details.config.labels["team"] == "blue")
            #expect(details.config.entrypoint == ["/server"])
            #expect(details.config.command == ["--unused-flag"])
        }
    }

    @Test("a crash is recorded as stopped_with_code; the next request starts a new container")
    func crash() async throws {
        // One object for every request, chosen by a header, so the crash hits the object that served before.
        let berth = #"{ "routes": [{ "prefix": "/", "binding": "MY_CONTAINER", "object": "header:X-Object" }] }"#
        try await GatewayFixture.with(berth: berth) { f in
            let object = [("X-Object", "crashy")]
            let first = try await f.request("/hello", headers: object)
            #expect(first.status == 200)
            let crashed = try await f.request("/error", headers: object)
            #expect(crashed.status == 502)
            #expect(crashed.body.contains("the container did not answer"))
            let controller = f.myContainer.getByName("crashy")
            #expect(try await f.eventually(within: 10) { await controller.status == .stoppedWithCode(1) })
            #expect(try await f.eventually(within: 10) { try await f.engineContainers().isEmpty })
            let again = try await f.request("/hello", headers: object)
            #expect(again.status == 200)
            #expect(again.body != first.body, "a new instance id")
            #expect(await controller.status == .healthy)
        }
    }

    @Test("sleepAfter stops an idle container, and never while a request is in flight")
    func idle() async throws {
        try await GatewayFixture.with(berth: #"{ "classes": { "MyContainer": { "sleep_after": "1s" } } }"#) { f in
            let controller = f.myContainer.getByName("/container/sleepy")
            #expect(try await f.request("/container/sleepy").status == 200)
            #expect(await controller.status == .healthy)
            // A lease held for 2.5 s (a long request) keeps it alive past sleepAfter.
            let lease = try await controller.acquire()
            try await Task.sleep(for: .milliseconds(2500))
            #expect(await controller.status == .healthy)
            await lease.release()
            #expect(try await f.eventually(within: 10) { await controller.status == .stopped })
            #expect(try await f.eventually(within: 10) { try await f.engineContainers().isEmpty })
        }
    }

    @Test("stop sends SIGTERM, waits the grace period in stopping, then SIGKILLs")
    func gracePeriod() async throws {
        let berth = #"{ "stop_grace_period": "2s", "classes": { "MyContainer": { "env_vars": { "IGNORE_SIGTERM": "1" } } } }"#
        try await GatewayFixture.with(berth: berth) { f in
            let first = try await f.request("/container/stubborn")
            #expect(first.status == 200)
            let controller = f.myContainer.getByName("/container/stubborn")
            let started = ContinuousClock.now
            let stopping = Task { await controller.stop() }
            #expect(try await f.eventually(within: 1) { await controller.status == .stopping })
            await stopping.value
            let elapsed = started.duration(to: .now)
            #expect(await controller.status == .stopped)
            #expect(elapsed >= .seconds(2), "SIGKILL came before the grace period: \(elapsed)")
            #expect(try await f.engineContainers().isEmpty)
        }
    }

    @Test("a port that never answers fails the start with 500 and the container is removed")
    func startTimeout() async throws {
        let berth = #"{ "port_ready_timeout": "1s", "classes": { "MyContainer": { "env_vars": { "PORT": "9090" } } } }"#
        try await GatewayFixture.with(berth: berth) { f in
            let controller = f.myContainer.getByName("/container/deaf")
            let waiting = Task { try await f.request("/container/deaf") }
            // While the request waits for the port, the container is running but not healthy.
            #expect(try await f.eventually(within: 5) { await controller.status == .running })
            let reply = try await waiting.value
            #expect(reply.status == 500)
            #expect(reply.body.hasPrefix("Failed to start container: port 8080 did not answer within 1s"), "\(reply.body)")
            #expect(try await f.eventually(within: 10) { try await f.engineContainers().isEmpty })
            #expect(await f.myContainer.getByName("/container/deaf").status == .stopped)
            // The slot is given back once the engine has removed the container.
            #expect(try await f.eventually(within: 10) { f.myContainer.budget.inUse == 0 })
        }
    }

    @Test("a client's cf-container-target-port chooses nothing, cold or warm; an unknown route is a clear error")
    func badRequests() async throws {
        try await GatewayFixture.with { f in
            // Cold (the Worker's path), then warm: the default port answers both, and the
            // container never sees the header (only the SDK's switchPort sets it).
            for _ in 0..<2 {
                let port = try await f.request("/container/ports?/headers", headers: [("cf-container-target-port", "9999")])
                #expect(port.status == 200)
                #expect(port.body.hasPrefix("GET /container/ports?/headers HTTP/1.1\r\n"))
                #expect(!port.body.lowercased().contains("cf-container-target-port"), "\(port.body)")
            }
            let unknown = try await f.request("/nowhere")
            #expect(unknown.status == 404)
            #expect(unknown.body.contains("/container"))
        }
    }

    @Test("stop and destroy go through stopping to stopped; shutdown removes every container")
    func stopAndShutdown() async throws {
        try await GatewayFixture.with { f in
            let first = try await f.request("/container/one")
            #expect(first.status == 200)
            #expect(try await f.request("/container/two").status == 200)
            let one = f.myContainer.getByName("/container/one")
            await one.stop()
            #expect(await one.status == .stopped)
            let two = f.myContainer.getByName("/container/two")
            await two.destroy()
            #expect(await two.status == .stopped)
            #expect(try await f.eventually(within: 10) { try await f.engineContainers().isEmpty })
            #expect(try await f.request("/container/three").status == 200)
            await f.platform.shutdown()
            #expect(try await f.engineContainers().isEmpty)
        }
    }

    @Test("an instance type bigger than the engine is capped to its CPUs and memory, and starts")
    func oversizedInstanceType() async throws {
        let biggest = InstanceType.presets.max { $0.vcpu < $1.vcpu }!
        try await GatewayFixture.with(configure: { $0.containers[0].instanceType = biggest }) { f in
            #expect(try await f.request("/container/big").status == 200)
            let container = try #require(try await f.engineContainers().first)
            let details = try await f.client.inspectContainer(container.id)
            let info = try await f.client.info()
            #expect(details.hostConfig.nanoCPUs == min(Int64(biggest.vcpu * 1_000_000_000), Int64(info.cpus) * 1_000_000_000))
            #expect(details.hostConfig.memoryBytes == min(Int64(biggest.memoryMiB) << 20, info.memoryBytes))
        }
    }
}
