import BerthConfig
import BerthRuntime
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One ``UpstreamPool`` per event loop, created when the loop's first gateway connection
/// opens (a lock per connection, never per request).
final class UpstreamPools: Sendable {
    private let pools = Mutex<[ObjectIdentifier: UpstreamPool]>([:])
    /// Idle connections kept per container endpoint and event loop.
    let maxIdlePerEndpoint: Int
    /// `berth.limits.response_timeout` of the warm exchanges.
    let responseTimeout: TimeAmount

    init(maxIdlePerEndpoint: Int = 256, responseTimeout: Duration = LimitSettings().responseTimeout) {
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.responseTimeout = TimeAmount(responseTimeout)
    }

    func pool(for loop: any EventLoop) -> UpstreamPool {
        pools.withLock { pools in
            if let pool = pools[ObjectIdentifier(loop)] { return pool }
            let pool = UpstreamPool(eventLoop: loop, maxIdlePerEndpoint: maxIdlePerEndpoint, responseTimeout: responseTimeout)
            pools[ObjectIdentifier(loop)] = pool
            return pool
        }
    }

    /// Requests forwarded on the warm path and container connections opened, summed over
    /// the event loops.
    func counts() async -> (forwarded: Int, opened: Int) {
        var total = (forwarded: 0, opened: 0)
        for pool in pools.withLock({ Array($0.values) }) {
            let counts = try? await pool.eventLoop.submit { (pool.forwarded, pool.opened) }.get()
            total.forwarded += counts?.0 ?? 0
            total.opened += counts?.1 ?? 0
        }
        return total
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        for pool in pools.withLock({ Array($0.values) }) {
            pool.eventLoop.execute { pool.closeAll() }
        }
    }
}

/// Keep-alive connections to containers, owned by one event loop and touched only on it:
/// a warm request and its container connection share a thread, so forwarding involves no
/// handoff between threads.
package final class UpstreamPool: @unchecked Sendable {
    /// Opens a channel to an endpoint whose pipeline ends with the HTTP client handlers and
    /// the given handler. Tests put `EmbeddedChannel`s here.
    typealias Connector = (Endpoint, UpstreamHandler) -> EventLoopFuture<any Channel>

    let eventLoop: any EventLoop
    let maxIdlePerEndpoint: Int
    let responseTimeout: TimeAmount
    private let connector: Connector
    /// Opens the connection of a WebSocket handshake (nil: TCP).
    let upgradeOpener: ContainerUpgrade.Opener?
    private var idle: [Endpoint: [UpstreamConnection]] = [:]
    /// Requests forwarded through this loop's warm path.
    var forwarded = 0
    /// Connections to containers opened by this loop.
    var opened = 0

    init(
        eventLoop: any EventLoop, maxIdlePerEndpoint: Int, responseTimeout: TimeAmount = TimeAmount(LimitSettings().responseTimeout), connector: Connector? = nil,
        upgradeOpener: ContainerUpgrade.Opener? = nil
    ) {
        self.upgradeOpener = upgradeOpener
        self.eventLoop = eventLoop
        self.maxIdlePerEndpoint = maxIdlePerEndpoint
        self.responseTimeout = responseTimeout
        self.connector = connector ?? { endpoint, handler in Self.connectTCP(endpoint, handler: handler, on: eventLoop) }
    }

    /// An idle connection to `endpoint`, if one is open.
    func take(_ endpoint: Endpoint) -> UpstreamConnection? {
        eventLoop.assertInEventLoop()
        while let connection = idle[endpoint]?.popLast() {
            if connection.channel.isActive { return connection }
        }
        return nil
    }

    /// Opens a new connection to `endpoint` on this loop.
    func connect(_ endpoint: Endpoint) -> EventLoopFuture<UpstreamConnection> {
        opened += 1
        let handler = UpstreamHandler()
        handler.endpoint = endpoint
        return connector(endpoint, handler).map { UpstreamConnection(channel: $0, handler: handler, endpoint: endpoint) }
    }

    /// A TCP connection to a container's port.
    private static func connectTCP(_ endpoint: Endpoint, handler: UpstreamHandler, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try addHandlers(to: channel.pipeline.syncOperations, handler: handler)
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
    }

    /// A container connection's handlers; a ``Connector`` of a test or fuzz target adds these too.
    static func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, handler: UpstreamHandler) throws {
        // The head is one the server's parser accepted, plus Berth's own fields:
        // validating it again for every request is work for nothing.
        try pipeline.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
        try pipeline.addHandler(handler)
    }

    /// Gives back a connection whose last exchange ended cleanly: its response was read
    /// whole, and its reads are on (a connection with reads off would leave the next request
    /// on it waiting forever: it is closed instead).
    func giveBack(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.handler.exchange = nil
        let reading = (try? connection.channel.syncOptions?.getOption(.autoRead)) ?? true
        guard reading, connection.channel.isActive, idle[connection.endpoint, default: []].count < maxIdlePerEndpoint else {
            connection.channel.close(promise: nil)
            return
        }
        connection.handler.pool = self
        idle[connection.endpoint, default: []].append(connection)
    }

    /// An idle connection closed (the container stopped, or closed it).
    func remove(_ handler: UpstreamHandler) {
        guard let endpoint = handler.endpoint else { return }
        idle[endpoint]?.removeAll { $0.handler === handler }
        if idle[endpoint]?.isEmpty == true { idle[endpoint] = nil }
    }

    func closeAll() {
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for connection in all { connection.channel.close(promise: nil) }
    }
}

/// A connection to a container's published port.
struct UpstreamConnection {
    let channel: any Channel
    let handler: UpstreamHandler
    let endpoint: Endpoint
}

/// Receives a container's response and hands each part to the exchange using the
/// connection; removes the connection from its pool when it closes while idle.
final class UpstreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// The exchange this connection serves now; nil while idle in the pool.
    var exchange: WarmExchange?
    weak var pool: UpstreamPool?
    var endpoint: Endpoint?
    private var eventLoop: (any EventLoop)?
    /// The `response_timeout` timer, one per connection across its exchanges: an exchange
    /// arms it only when none runs, and a timer that fires early (the exchange's deadline
    /// moved on, or the connection went back to the pool) asks again or stops. So a warm
    /// request schedules nothing in the usual case.
    private var responseTimer: Scheduled<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        responseTimer?.cancel()
        responseTimer = nil
    }

    /// Makes sure the timer fires no later than `deadline`, which is never earlier than one
    /// already set (each is a moment of progress plus the same timeout).
    func armResponseTimer(at deadline: NIODeadline) {
        guard responseTimer == nil, let eventLoop else { return }
        responseTimer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            responseTimer = nil
            if let next = exchange?.responseTimerFired() { armResponseTimer(at: next) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        exchange?.upstreamRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.upstreamWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        responseTimer?.cancel()
        responseTimer = nil
        if let exchange {
            self.exchange = nil
            exchange.upstreamFailed(ChannelError.eof)
        } else {
            pool?.remove(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let exchange {
            self.exchange = nil
            exchange.upstreamFailed(error)
        }
        context.close(promise: nil)
    }
}
