import AsyncHTTPClient
import BerthConfig
import BerthCore
import BerthTestSupport
@testable import BerthRuntime
@testable import BerthServer
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization

/// The warm path's handlers on `EmbeddedChannel`s: a client connection through the server's
/// HTTP codec and a ``WarmProxyHandler``, container connections that the test answers by
/// hand, and a lease on a real ``ContainerController`` whose gate is opened without a
/// container (the warm path never calls the engine).
final class WarmHarness {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    /// Reads the client's connection asked the socket for.
    let reads = ReadCounter()
    let pool: UpstreamPool
    let observer = RecordingObserver()
    let controller: ContainerController
    let connections: Connections
    /// The listener's limits, when the pipeline is the gateway's own.
    let listener: ListenerLimits?

    /// The container connections opened, in order.
    var upstreams: [EmbeddedChannel] { connections.opened }

    /// Opens container connections as `EmbeddedChannel`s on the harness's loop.
    final class Connections {
        let loop: EmbeddedEventLoop
        var opened: [EmbeddedChannel] = []
        /// The next connection attempts fail (connection refused).
        var refuse = false
        /// The next connection attempts wait for the test to complete ``waiting``.
        var deferred = false
        var waiting: EventLoopPromise<any Channel>?

        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func connect(_ endpoint: Endpoint, _ handler: UpstreamHandler) -> EventLoopFuture<any Channel> {
            if refuse { return loop.makeFailedFuture(IOError(errnoCode: 111, reason: "connection refused")) }
            if deferred {
                let promise = loop.makePromise(of: (any Channel).self)
                waiting = promise
                return promise.futureResult
            }
            let channel = EmbeddedChannel(loop: loop)
            do {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(handler)
                channel.connect(to: try SocketAddress(ipAddress: endpoint.host, port: endpoint.port), promise: nil)
            } catch {
                return loop.makeFailedFuture(error)
            }
            opened.append(channel)
            return loop.makeSucceededFuture(channel)
        }
    }

    /// `limits`: the client's pipeline is the gateway's own (``BerthHTTPChannel/configure``),
    /// with those limits; otherwise the HTTP codec and the warm path alone. `warm: false`:
    /// every request passes on, as to Hummingbird (read them with `client.readInbound`).
    init(maxIdle: Int = 4, limits: LimitSettings? = nil, warm: Bool = true, sight: EngineSight = .always) throws {
        let settings = ContainerSettings(app: "test", className: "Warm", containerName: "warm", image: "none", defaultPort: 8080)
        let containerClass = ContainerClass(
            spec: ClassSpec(settings: settings, maxInstances: 1, deploymentID: "d1"), runtime: NoEngine(sight: sight), http: HTTPClient.shared,
            requestObserver: observer
        )
        let controller = containerClass.getByName("warm")
        controller.gate.open(.init(generation: 1, instanceID: "i1", endpoints: [8080: Endpoint(host: "127.0.0.1", port: 40000)], defaultPort: 8080))
        self.controller = controller
        let connections = Connections(loop: loop)
        self.connections = connections
        let pool = UpstreamPool(
            eventLoop: loop, maxIdlePerEndpoint: maxIdle, responseTimeout: TimeAmount(limits?.responseTimeout ?? .seconds(60)),
            connector: connections.connect
        )
        self.pool = pool
        client = EmbeddedChannel(loop: loop)
        let pipeline = client.pipeline.syncOperations
        try pipeline.addHandler(reads)
        let routing: WarmRouting = { _ in warm ? controller.tryAcquireWarm() : nil }
        if let limits {
            listener = ListenerLimits(limits)
            try BerthHTTPChannel.configure(client, limits: listener!, warm: (routing, pool), addsCodec: false)
        } else {
            listener = nil
            try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
            try pipeline.addHandler(WarmProxyHandler(routing: routing, pool: pool))
        }
        client.connect(to: try SocketAddress(ipAddress: "10.1.2.3", port: 5555), promise: nil)
    }

    /// Leases of the controller not given back.
    var inFlight: Int { controller.gate.activity.inFlight }

    /// Bytes from the client.
    func send(_ text: String) throws {
        try client.writeInbound(ByteBuffer(string: text))
    }

    /// Bytes from the container on connection `index`.
    func answer(_ text: String, on index: Int = 0) throws {
        try upstreams[index].writeInbound(ByteBuffer(string: text))
    }

    /// Everything written to the client since the last call.
    func clientReceived() throws -> String {
        try Self.written(client)
    }

    /// Everything written to container connection `index` since the last call.
    func containerReceived(_ index: Int = 0) throws -> String {
        try Self.written(upstreams[index])
    }

    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let data = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let buffer) = data { text += String(buffer: buffer) }
        }
        return text
    }

    /// The container connection's `autoRead` as last set (true when never set).
    func upstreamAutoRead(_ index: Int = 0) -> Bool {
        upstreams[index].options.first { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool ?? true
    }
}

/// Counts the reads that reach the socket end of a pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// What the object's request observer was told.
final class RecordingObserver: RequestObserver {
    private let seen = Mutex<[(status: Int, failure: BerthError.Code?)]>([])

    func request(className: String, status: Int, duration: Duration, failure: BerthError.Code?) {
        seen.withLock { $0.append((status, failure)) }
    }

    var statuses: [Int] { seen.withLock { $0.map(\.status) } }
    var failures: [BerthError.Code?] { seen.withLock { $0.map(\.failure) } }
}
