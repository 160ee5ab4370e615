import Berth
import BerthCore
import BerthRuntime
import NIOCore
import NIOHTTP1

/// What a client's connection becomes after its 101.
enum GatewaySocket: Sendable {
    /// A container's socket, relayed frame by frame.
    case relay(FrameRelay)
    /// The client end of a Worker's `WebSocketPair`: Berth reads the client's messages for
    /// the Worker.
    case pair(PairLink, maxMessageBytes: Int)

    /// Gives back what it holds when the switch does not happen.
    func abandon() {
        switch self {
        case .relay(let relay): relay.abandon()
        case .pair(let link, _): link.fail()
        }
    }
}

/// Switches a gateway client connection from HTTP to a WebSocket: the 101 goes out through
/// the HTTP encoder, then the connection's HTTP handlers (byte arrival, encoder, parser,
/// client limits) make room for the socket's, right where the bytes arrive. The handlers
/// behind them (the warm path's, Hummingbird's) stay, idle, until the connection closes.
enum WebSocketSwitch {
    /// `context` is the ``WarmProxyHandler``'s; `head` the 101 as the client gets it.
    static func perform(_ socket: GatewaySocket, head: HTTPResponseHead, context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        do {
            let bytes = try pipeline.handler(type: ClientBytesHandler.self)
            switch socket {
            case .relay(let relay):
                try pipeline.addHandler(relay.clientHandler, position: .after(bytes))
            case .pair(let link, let maxMessageBytes):
                let endpoint = WebSocketEndpoint(channel: context.channel, role: .server, maxMessageBytes: maxMessageBytes)
                try pipeline.addHandlers(endpoint.makeHandlers(), position: .after(bytes))
                link.attach(endpoint)
            }
            pipeline.removeHandler(bytes, promise: nil)
            pipeline.removeHandler(try pipeline.handler(type: HTTPResponseEncoder.self), promise: nil)
            pipeline.removeHandler(try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
            pipeline.removeHandler(try pipeline.handler(type: ClientLimitsHandler.self), promise: nil)
        } catch {
            socket.abandon()
            context.close(promise: nil)
            return
        }
        context.flush()
        if case .relay(let relay) = socket { relay.start() }
    }

    /// The client's 101 for a container's: the container's headers (its
    /// `Sec-WebSocket-Accept`, subprotocol and extensions) and the handshake's own.
    static func clientHead(_ response: HTTPResponseHead) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: ForwardingPolicy.webSocketResponseHeaders(response.headers))
    }
}
