import BerthCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// The WebSocket handshake with a container, on a connection of its own (an upgraded
/// connection never goes back to a pool), on the event loop of the client's connection so
/// that the relay's two sides share a thread.
public enum ContainerUpgrade {
    /// How the container answered.
    public enum Outcome: Sendable {
        /// `101 Switching Protocols`: the connection now carries the socket.
        case switched(SwitchedUpstream, head: HTTPResponseHead)
        /// Any other answer, whole (at most ``maxAnswerBytes``); its connection is closed.
        case answered(HTTPResponseHead, body: ByteBuffer)
    }

    /// Opens a channel to an endpoint after running the given initializer on it (which adds the
    /// handshake's handlers): a TCP connection by default; harnesses without sockets give
    /// their own.
    public typealias Opener = (Endpoint, @escaping (any Channel) throws -> Void) -> EventLoopFuture<any Channel>

    /// The largest refusal body kept (an answer other than 101 to a handshake is short).
    public static let maxAnswerBytes = 1 << 20

    /// Opens a connection to `endpoint` and sends `head`, the handshake as the container gets
    /// it (``ForwardingPolicy/webSocketRequestHead(_:client:scheme:)``). Fails with Berth's error
    /// when the container cannot be reached or is silent for `timeout`.
    public static func open(
        _ endpoint: Endpoint, head: HTTPRequestHead, on loop: any EventLoop, timeout: TimeAmount, opener: Opener? = nil
    ) -> EventLoopFuture<Outcome> {
        let promise = loop.makePromise(of: Outcome.self)
        let handshake = HandshakeHandler(promise: promise, timeout: timeout)
        let initialize: (any Channel) throws -> Void = { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, enableOutboundHeaderValidation: false)
            try channel.pipeline.syncOperations.addHandler(handshake)
        }
        let connected: EventLoopFuture<any Channel>
        if let opener {
            connected = opener(endpoint, initialize)
        } else {
            connected = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initialize(channel) } }
                .connect(host: endpoint.host, port: endpoint.port)
        }
        connected
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.writeAndFlush(NIOAny(HTTPClientRequestPart.head(head)), promise: nil)
                    channel.writeAndFlush(NIOAny(HTTPClientRequestPart.end(nil)), promise: nil)
                case .failure(let error):
                    promise.fail(ForwardingPolicy.failure(error))
                }
            }
        return promise.futureResult
    }
}

/// Reads the container's answer to the handshake; on 101, takes the HTTP handlers off the
/// connection and leaves an ``UpgradeHold`` with whatever came after the 101.
final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<ContainerUpgrade.Outcome>
    private let timeout: TimeAmount
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var done = false

    init(promise: EventLoopPromise<ContainerUpgrade.Outcome>, timeout: TimeAmount) {
        self.promise = promise
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let timeout = self.timeout
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            fail(BerthError(.timeout, "the container did not answer the WebSocket handshake within \(DurationText.format(Duration(timeout))) (berth.limits.response_timeout)"), context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let response):
            head = response
            if response.status != .switchingProtocols { body = context.channel.allocator.buffer(capacity: 0) }
        case .body(var chunk):
            guard var collected = body else { return }
            guard collected.readableBytes + chunk.readableBytes <= ContainerUpgrade.maxAnswerBytes else {
                return fail(BerthError(.containerUnreachable, "the container refused the WebSocket handshake with an answer larger than 1 MiB; a container should answer a handshake it refuses with a short body"), context: context)
            }
            body = nil
            collected.writeBuffer(&chunk)
            body = collected
        case .end:
            guard let head else { return }
            if head.status == .switchingProtocols {
                switched(head, context: context)
            } else {
                finish(.answered(head, body: body ?? ByteBuffer()))
                context.close(promise: nil)
            }
        }
    }

    private func switched(_ head: HTTPResponseHead, context: ChannelHandlerContext) {
        let upgrade = head.headers["upgrade"].joined(separator: ",").lowercased()
        guard upgrade.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "websocket" }) else {
            return fail(BerthError(.containerUnreachable, "the container answered the WebSocket handshake with 101 but without \"Upgrade: websocket\"; its server must switch to the WebSocket protocol it was asked for"), context: context)
        }
        let pipeline = context.pipeline.syncOperations
        let hold = UpgradeHold()
        let removed = context.eventLoop.makePromise(of: Void.self)
        do {
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            try pipeline.addHandler(hold, position: .after(decoder))
            pipeline.removeHandler(self, promise: nil)
            pipeline.removeHandler(try pipeline.handler(type: HTTPRequestEncoder.self), promise: nil)
            // What the container sent after its 101 moves on to the hold, once the parser's
            // removal (which comes later on the loop) is done.
            pipeline.removeHandler(decoder, promise: removed)
        } catch {
            return fail(BerthError(.internal, "could not switch the container's connection to the WebSocket: \(error)"), context: context)
        }
        let upstream = SwitchedUpstream(channel: context.channel, hold: hold)
        removed.futureResult.assumeIsolated().whenComplete { _ in
            self.finish(.switched(upstream, head: head))
        }
    }

    private func finish(_ outcome: ContainerUpgrade.Outcome) {
        guard !done else { return }
        done = true
        timer?.cancel()
        promise.succeed(outcome)
    }

    private func fail(_ error: BerthError, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        timer?.cancel()
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(BerthError(.containerUnreachable, "the container closed the connection before it answered the WebSocket handshake"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(ForwardingPolicy.failure(error), context: context)
    }
}
