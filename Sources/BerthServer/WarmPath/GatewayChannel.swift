import BerthConfig
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

/// The limits one listener applies to each of its connections (from `berth.limits`).
struct ListenerLimits: Sendable {
    var timeouts: ClientTimeouts.Settings
    var maxHeaderBytes: Int
    let connections: ConnectionCount

    init(_ settings: LimitSettings) {
        timeouts = .init(
            header: TimeAmount(settings.headerTimeout), bodyIdle: TimeAmount(settings.bodyIdleTimeout),
            keepalive: TimeAmount(settings.keepaliveTimeout), send: TimeAmount(settings.sendTimeout)
        )
        maxHeaderBytes = settings.maxHeaderBytes
        connections = ConnectionCount(limit: settings.maxConnections)
    }
}

/// The warm path of a gateway: how requests are routed to it and the container connections.
struct WarmPath: Sendable {
    let routing: WarmRouting
    let upstreams: UpstreamPools
}

/// Berth's HTTP/1.1 channel, for the gateway and the admin listener: Hummingbird's, with the
/// listener's limits around the HTTP parser and, on the gateway, a ``WarmProxyHandler`` right
/// after it. Requests to healthy containers are forwarded by that handler on the
/// connection's own event loop; every other request goes on to Hummingbird.
struct BerthHTTPChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    let limits: ListenerLimits
    let warm: WarmPath?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture { try setupSynchronously(channel, logger: logger, tls: false) }
    }

    /// The handlers and the value Hummingbird reads from; `tls`: the connection is already
    /// counted and decrypted by ``BerthTLSChannel``, and its requests are `https`.
    func setupSynchronously(_ channel: any Channel, logger: Logger, tls: Bool) throws -> Value {
        try Self.configure(channel, limits: limits, warm: warm.map { ($0.routing, $0.upstreams.pool(for: channel.eventLoop)) }, tls: tls)
        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
        return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
    }

    /// The pipeline up to Hummingbird's HTTP types: connection count (unless `tls`: the TLS
    /// channel counts before its handshake), byte arrival, parser (with `max_header_bytes`
    /// as its limits), timeouts and head size, the warm path.
    static func configure(
        _ channel: any Channel, limits: ListenerLimits, warm: (routing: WarmRouting, pool: UpstreamPool)?, addsCodec: Bool = true, tls: Bool = false
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = HTTP1Channel.Configuration().httpDecoder.maxHeaderFieldCount
        let clientLimits = ClientLimitsHandler(settings: limits.timeouts, maxHeaderBytes: limits.maxHeaderBytes, now: channel.eventLoop.now)
        if !tls { try pipeline.addHandler(ConnectionLimitHandler(count: limits.connections)) }
        try pipeline.addHandler(ClientBytesHandler(limits: clientLimits))
        try pipeline.configureHTTPServerPipeline(
            withPipeliningAssistance: false,  // Hummingbird and the warm path keep the order themselves
            withErrorHandling: false,
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits
        )
        try pipeline.addHandler(clientLimits)
        if let warm {
            try pipeline.addHandler(WarmProxyHandler(routing: warm.routing, pool: warm.pool, scheme: tls ? "https" : "http"))
        }
        if addsCodec { try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: tls)) }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension Channel {
    /// A gateway client connection's handlers, from the bytes up to Hummingbird's responder,
    /// exactly as ``BerthHTTPChannel`` sets them up. The fuzz target of the request head
    /// (fuzz/) builds its pipelines with this, so whatever the gateway adds is fuzzed too.
    package func addGatewayHandlers(routing: @escaping WarmRouting, pool: UpstreamPool, logger: Logger, limits: LimitSettings = LimitSettings()) throws {
        try BerthHTTPChannel.configure(self, limits: ListenerLimits(limits), warm: (routing, pool))
        try pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the listener's limits and, for the gateway, the warm path in front of
    /// the responder. One connection count per listener. With `tls`, TLS first, and HTTP/2
    /// or HTTP/1.1 as ALPN agrees (see ``BerthTLSChannel``).
    static func berth(limits settings: LimitSettings, warm: WarmPath? = nil, tls: ListenerTLS? = nil) -> HTTPServerBuilder {
        let limits = ListenerLimits(settings)
        return HTTPServerBuilder { responder in
            let http1 = BerthHTTPChannel(responder: responder, limits: limits, warm: warm)
            guard let tls else { return http1 }
            return BerthTLSChannel(http1: http1, tls: tls, limits: settings)
        }
    }
}
