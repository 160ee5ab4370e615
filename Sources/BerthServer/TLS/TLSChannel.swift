import BerthConfig
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// A TLS listener's connection: counted against `max_connections`, given `header_timeout`
/// to finish its handshake, decrypted with the listener's current certificates, then
/// HTTP/1.1 exactly as on a plain listener (limits, parser, the gateway's warm path) or, when
/// the client's ALPN asks for `h2`, Hummingbird's HTTP/2, whose streams all go to the
/// responder (on the gateway, the Worker's path: the warm path is HTTP/1.1's).
struct BerthTLSChannel: ServerChildChannel, HTTPChannelHandler {
    typealias HTTP1Value = BerthHTTPChannel.Value
    typealias HTTP2Value = HTTP2Channel.Value

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Value, HTTP2Value>>
        let channel: any Channel
    }

    let http1: BerthHTTPChannel
    let http2: HTTP2Channel
    let tls: ListenerTLS
    let connections: ConnectionCount
    let handshakeTimeout: TimeAmount

    var responder: HTTPChannelHandler.Responder { http1.responder }

    init(http1: BerthHTTPChannel, tls: ListenerTLS, limits: LimitSettings) {
        self.http1 = http1
        self.tls = tls
        connections = http1.limits.connections
        handshakeTimeout = TimeAmount(limits.headerTimeout)
        // A connection with no open stream for `keepalive_timeout` is closed, and a stream
        // whose request stays unanswered and silent for `header_timeout` too.
        var streams = HTTP1Channel.Configuration()
        streams.idleTimeout = TimeAmount(limits.headerTimeout)
        http2 = HTTP2Channel(
            responder: http1.responder,
            configuration: .init(idleTimeout: limits.keepaliveTimeout, gracefulCloseTimeout: limits.keepaliveTimeout, streamConfiguration: streams)
        )
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(ConnectionLimitHandler(count: connections, answers: false))
            try pipeline.addHandler(NIOSSLServerHandler(context: tls.context))
            try pipeline.addHandler(TLSHandshakeTimeoutHandler(timeout: handshakeTimeout))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        let http1 = self.http1
        let http2 = self.http2
        return channel.configureBerthSecureUpgrade { channel in
            channel.eventLoop.makeCompletedFuture { try http1.setupSynchronously(channel, logger: logger, tls: true) }
        } http2ConnectionInitializer: { channel in
            http2.setup(channel: channel, logger: logger)
        }.map { Value(negotiated: $0, channel: channel) }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
            case .http2(let connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("TLS connection ended before its protocol was agreed: \(error)")
        }
    }
}

extension Channel {
    /// ALPN's outcome sets up the rest: `h2` for HTTP/2, `http/1.1` or nothing for HTTP/1.1
    /// (as NIOHTTP2's and Hummingbird's secure upgrade do; theirs are internal).
    func configureBerthSecureUpgrade<HTTP1Output: Sendable, HTTP2Output: Sendable>(
        http1ConnectionInitializer: @escaping NIOChannelInitializerWithOutput<HTTP1Output>,
        http2ConnectionInitializer: @escaping NIOChannelInitializerWithOutput<HTTP2Output>
    ) -> EventLoopFuture<EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Output, HTTP2Output>>> {
        eventLoop.makeCompletedFuture {
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<NIONegotiatedHTTPVersion<HTTP1Output, HTTP2Output>> { result in
                switch result {
                case .negotiated("h2"):
                    return http2ConnectionInitializer(self).map { .http2($0) }
                case .negotiated("http/1.1"), .fallback:
                    return http1ConnectionInitializer(self).map { .http1_1($0) }
                case .negotiated:
                    return self.close().flatMap { self.eventLoop.makeFailedFuture(NIOHTTP2Errors.invalidALPNToken()) }
                }
            }
            try pipeline.syncOperations.addHandler(negotiation)
            return negotiation.protocolNegotiationResult
        }
    }
}

/// Closes a connection whose TLS handshake has not finished `timeout` after it opened: a
/// client that opens connections and never completes a handshake holds nothing for long.
final class TLSHandshakeTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            timer?.cancel()
            timer = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}
