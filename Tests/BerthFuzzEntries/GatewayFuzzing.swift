import AsyncHTTPClient
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import BerthTestSupport
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// Raw client bytes through the gateway's real client pipeline (``addGatewayHandlers``, as
/// `GatewayChannel` builds it) on an `EmbeddedChannel`, with Hummingbird's responder played by
/// ``ResponderStandIn``. Requests under `/warm`, `/cookie` and `/header` go down the warm path
/// to one object whose gate is open, over container connections that are `EmbeddedChannel`s
/// with the pool's own handlers; `/container` goes to the Worker.
///
/// The input is parts separated by ``separator``: the first, third, … are written by the client
/// (each part one read); the second, fourth, … are the container's bytes, each written to the
/// container connection that last received a request. Requests still waiting then get a
/// canned 200. At the end the clock jumps an hour (every timer fires), the client closes, and
/// every lease of the object must be back.
enum GatewayFuzzing {
    static let separator = Array("|~|".utf8)
    static let canned = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    static let routes = RouteTable(routes: [
        RouteConfig(prefix: "/warm", binding: "WARM", object: .rest),
        RouteConfig(prefix: "/cookie", binding: "WARM", object: .cookie("session")),
        RouteConfig(prefix: "/header", binding: "WARM", object: .header("x-object")),
        RouteConfig(prefix: "/container", binding: "WORKER", object: .path),
    ])

    /// The object every warm request goes to: its gate opened by hand, no container.
    static let controller: ContainerController = {
        let settings = ContainerSettings(app: "fuzz", className: "Warm", containerName: "warm", image: "none", defaultPort: 8080)
        let containerClass = ContainerClass(
            spec: ClassSpec(settings: settings, maxInstances: 1, deploymentID: "d1"), runtime: NoEngine(), http: HTTPClient.shared,
            logger: logger
        )
        let controller = containerClass.getByName("warm")
        controller.openWarmGate(port: 8080, endpoint: Endpoint(host: "127.0.0.1", port: 40000))
        return controller
    }()

    static let logger = Logger(label: "berth.fuzz") { _ in SwiftLogNoOpLogHandler() }

    /// The routing `RoutesWorker.warmLease` does, onto ``controller``.
    static let routing: WarmRouting = { head in
        let headers = head.headers
        guard headers.first(name: "cf-container-target-port") == nil,
              let (binding, _) = routes.resolve(target: head.uri, fields: headers),
              binding == "WARM"
        else { return nil }
        return controller.tryAcquireWarm()
    }

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let parts = split(bytes, at: separator)
        let loop = EmbeddedEventLoop()
        let containers = Containers(loop: loop)
        let pool = UpstreamPool.opening(on: loop, maxIdlePerEndpoint: 4, containers.open)
        let client = EmbeddedChannel(loop: loop)
        do {
            try client.addGatewayHandlers(routing: routing, pool: pool, logger: logger)
            try client.pipeline.syncOperations.addHandler(ResponderStandIn())
            client.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 5555), promise: nil)
        } catch {
            preconditionFailure("the gateway's pipeline cannot be built: \(error)")
        }

        for (index, part) in parts.enumerated() {
            if index % 2 == 0 {
                guard client.isActive else { continue }
                _ = try? client.writeInbound(ByteBuffer(bytes: part))
            } else {
                containers.answer(ByteBuffer(bytes: part))
            }
            loop.run()
            containers.collect()
        }
        // Requests still waiting for the container: answered until none waits (bounded).
        for _ in 0..<16 {
            guard containers.answer(canned) else { break }
            loop.run()
            containers.collect()
        }
        loop.advanceTime(by: .hours(1))
        client.close(promise: nil)
        loop.run()
        containers.closeAll()
        loop.run()
        _ = try? client.finish(acceptAlreadyClosed: true)
        precondition(controller.warmLeasesOut == 0, "a warm lease was not given back (\(controller.warmLeasesOut) out)")
        _ = try? loop.syncShutdownGracefully()
    }

    /// Container connections: `EmbeddedChannel`s on the client's loop (the pool adds its handlers).
    final class Containers {
        let loop: EmbeddedEventLoop
        var opened: [EmbeddedChannel] = []
        /// Connections that received request bytes since they were last answered.
        var waiting: [EmbeddedChannel] = []

        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func open(_ endpoint: Endpoint) -> any Channel {
            let channel = EmbeddedChannel(loop: loop)
            opened.append(channel)
            return channel
        }

        /// Reads what the gateway wrote to each container connection.
        func collect() {
            for channel in opened where channel.isActive {
                var received = false
                while let data = try? channel.readOutbound(as: IOData.self) {
                    if case .byteBuffer(let buffer) = data, buffer.readableBytes > 0 { received = true }
                }
                if received, !waiting.contains(where: { $0 === channel }) { waiting.append(channel) }
            }
            waiting.removeAll { !$0.isActive }
        }

        /// Writes `bytes` from the container on the connection that waits longest; false when
        /// none waits.
        @discardableResult
        func answer(_ bytes: ByteBuffer) -> Bool {
            guard !waiting.isEmpty else { return false }
            let channel = waiting.removeFirst()
            _ = try? channel.writeInbound(bytes)
            return true
        }

        func closeAll() {
            for channel in opened {
                _ = try? channel.finish(acceptAlreadyClosed: true)
            }
        }
    }
}
