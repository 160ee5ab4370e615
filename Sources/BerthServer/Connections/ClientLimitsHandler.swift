import BerthCore
import NIOCore
import NIOHTTP1

/// Enforces a listener's limits on one client connection, right after the HTTP parser:
/// the timeouts of ``ClientTimeouts`` (408 or a close when one expires) and the head size
/// (`431` when the parser's limit, set to `max_header_bytes`, is passed). Closing the
/// connection is what ends a request here: the warm path releases its lease when its client
/// closes, the Worker's request body fails and its proxy releases the lease, so a timed-out
/// request frees its object's activity and its `max_instances` slot.
///
/// Sees the request parts inbound, the response parts outbound, and `read` (what Berth asks
/// of the client); ``ClientBytesHandler``, before the parser, tells it when bytes arrive.
final class ClientLimitsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var timeouts: ClientTimeouts
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
    private var context: ChannelHandlerContext?
    private var closing = false

    /// `berth.limits.max_header_bytes`, as the parser before this enforces it: named in the 431.
    private let maxHeaderBytes: Int

    init(settings: ClientTimeouts.Settings, maxHeaderBytes: Int, now: NIODeadline) {
        timeouts = ClientTimeouts(settings: settings, now: now)
        self.maxHeaderBytes = maxHeaderBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        rearm()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    // MARK: Events

    /// From ``ClientBytesHandler``: bytes came, before the parser has them.
    func bytesArrived() {
        guard let context else { return }
        timeouts.bytesArrived(now: context.eventLoop.now)
        rearm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: timeouts.requestHead(now: context.eventLoop.now)
        case .body: break
        case .end: timeouts.requestEnd()
        }
        context.fireChannelRead(data)
        rearm()
    }

    func read(context: ChannelHandlerContext) {
        timeouts.readRequested(now: context.eventLoop.now)
        rearm()
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            timeouts.responseHead(status: Int(head.status.code))
        case .body:
            break
        case .end:
            timeouts.responseEnd(now: context.eventLoop.now)
            rearm()
        }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        timeouts.writabilityChanged(context.channel.isWritable, now: context.eventLoop.now)
        rearm()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// A head larger than `max_header_bytes`: 431 when nothing else is being answered.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Closing already (a limit was answered): the parser's complaint about the cut
        // request must not become a second answer.
        if closing { return }
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow, timeouts.pending == 0, !timeouts.responseStarted {
            refuse(BerthError(.headersTooLarge, "the request head is larger than berth.limits.max_header_bytes (\(maxHeaderBytes) bytes); send fewer or shorter header fields (cookies, tokens)"), context: context)
            return
        }
        context.fireErrorCaught(error)
    }

    // MARK: The timer

    /// Keeps one scheduled task no later than the running timer's deadline. A task that
    /// fires early (the deadline moved on) schedules the next; nothing is rescheduled per
    /// event on the usual path.
    private func rearm() {
        guard let context, !closing, let deadline = timeouts.deadline else { return }
        if let timerAt, timerAt <= deadline.at { return }
        timer?.cancel()
        timerAt = deadline.at
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline.at) { [self] in
            timer = nil
            timerAt = nil
            fired()
        }
    }

    private func fired() {
        guard let context, !closing else { return }
        guard let expiry = timeouts.expired(at: context.eventLoop.now) else {
            rearm()
            return
        }
        switch timeouts.verdict(expiry) {
        case .requestTimeout:
            let message = expiry == .header
                ? "the request head did not arrive within berth.limits.header_timeout"
                : "the request body stopped coming for berth.limits.body_idle_timeout"
            refuse(BerthError(.requestTimeout, message), context: context)
        case .close:
            closing = true
            context.close(promise: nil)
        }
    }

    /// Answers Berth's error and closes the connection.
    private func refuse(_ error: BerthError, context: ChannelHandlerContext) {
        closing = true
        timer?.cancel()
        ErrorResponse.write(error, version: .http1_1, closeClient: true, context: context).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Before the HTTP parser: tells the connection's ``ClientLimitsHandler`` that bytes came.
final class ClientBytesHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limits: ClientLimitsHandler

    init(limits: ClientLimitsHandler) {
        self.limits = limits
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        limits.bytesArrived()
        context.fireChannelRead(data)
    }
}
