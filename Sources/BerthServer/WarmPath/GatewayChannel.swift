import BerthRuntime
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Decides, from a request's head, whether it takes the warm path: a lease on the healthy
/// container it goes to, or nil for the Worker.
public typealias WarmRouting = @Sendable (HTTPRequestHead) -> ContainerLease?

/// The gateway's HTTP/1.1 channel: Hummingbird's, with a ``WarmProxyHandler`` right after the
/// HTTP parser. Requests to healthy containers are forwarded by that handler on the
/// connection's own event loop; every other request goes on to Hummingbird and the Worker.
struct GatewayChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let routing: WarmRouting
    let upstreams: UpstreamPools

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addGatewayHandlers(routing: routing, pool: upstreams.pool(for: channel.eventLoop), logger: logger)
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// A gateway client connection's handlers, from the bytes up to Hummingbird's responder.
    /// The fuzz target of the request head (fuzz/) builds its pipelines with this too.
    package func addGatewayHandlers(routing: @escaping WarmRouting, pool: UpstreamPool, logger: Logger) throws {
        let decoder = HTTP1Channel.Configuration().httpDecoder
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = decoder.maxHeaderFieldSize
        limits.maxHeaderListSize = decoder.maxHeaderListSize
        limits.maxHeaderFieldCount = decoder.maxHeaderFieldCount
        try configureHTTPServerPipeline(
            withPipeliningAssistance: false,  // Hummingbird and the warm path keep the order themselves
            withErrorHandling: false,
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: limits
        )
        try addHandler(WarmProxyHandler(routing: routing, pool: pool))
        try addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try addHandler(HTTPConnectionStateHandler(logger: logger))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the gateway's warm path in front of the responder.
    static func gateway(routing: @escaping WarmRouting, upstreams: UpstreamPools) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GatewayChannel(responder: responder, routing: routing, upstreams: upstreams)
        }
    }
}
