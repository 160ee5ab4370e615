import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Where the gateway's pipeline hands requests to Hummingbird (`NIOAsyncChannel` and its
/// responder loop), a handler that answers the same way at the pipeline's level: 200 with an
/// empty body once a request has been read whole, closing after `Connection: close`; on a
/// parse error, 400 and the connection closed.
final class ResponderStandIn: ChannelDuplexHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closeAfterResponse = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            closeAfterResponse = request.headerFields[.connection]?.lowercased() == "close"
        case .body:
            break
        case .end:
            context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: [.contentLength: "0"]))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            if closeAfterResponse { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}
