import BerthCore
import NIOCore
import NIOHTTP1

/// Berth's own answer on a client's connection, from the gateway's handlers: the error's
/// message as text, its status from the one table (``BerthCore/BerthError/Code/httpStatus``).
enum ErrorResponse {
    /// Writes and flushes the whole response; `Connection: close` if the connection closes
    /// after it. The future completes when it was written.
    @discardableResult
    static func write(_ error: BerthError, version: HTTPVersion, closeClient: Bool, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var headers = HTTPHeaders()
        let body = ByteBuffer(string: error.message + "\n")
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.readableBytes))
        if let seconds = error.retryAfterSeconds { headers.add(name: "retry-after", value: String(seconds)) }
        if closeClient { headers.add(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: error.code.httpStatus, reasonPhrase: error.code.httpReason)
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        return context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
    }
}
