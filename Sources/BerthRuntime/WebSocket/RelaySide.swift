import NIOCore

/// One side of a ``FrameRelay``: the handler on one channel, reading what that side sends
/// (through its ``FrameCursor``) and writing what the other side sent.
final class RelaySide: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What this side sends.
    private var cursor: FrameCursor
    private let sender: FrameCursor.Sender
    /// The relay, until this side ends.
    var relay: FrameRelay!
    /// The other side, until this side ends (then neither keeps the other alive).
    var peer: RelaySide?
    /// Set before the handler is added, for the peer's writability checks and hops.
    var channel: (any Channel)?
    private var context: ChannelHandlerContext?
    /// What was written to this side so far ends on a frame boundary.
    private var outputAtBoundary = true
    /// A close frame went to this side (Berth's, or the peer's forwarded): nothing more does.
    private var outputClosed = false
    /// A close of Berth's waits for the frame being written to this side to end.
    private var pendingClose: (code: UInt16, reason: String)?
    private var readHeld = false
    private var ended = false
    private var closeTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?

    init(sender: FrameCursor.Sender, maxMessageBytes: Int) {
        self.sender = sender
        cursor = FrameCursor(sender: sender, maxMessageBytes: maxMessageBytes)
    }

    /// Runs `body` on this side's event loop (at once when already there).
    func onLoop(_ body: @escaping (RelaySide) -> Void) {
        guard let loop = channel?.eventLoop else { return }
        if loop.inEventLoop { body(self) } else { loop.execute { body(self) } }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel = context.channel
        if sender == .client, let timeout = relay?.settings.idleTimeout { armIdleTimer(TimeAmount(timeout)) }
        if !context.channel.isActive { return channelInactive(context: context) }
        // The relay reads its channel itself, from here towards the socket: the handlers the
        // connection had for HTTP sit behind it (Hummingbird's among them), and a read that
        // had to pass them would stop for good once one of them stops asking for more.
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        read(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        idleTimer?.cancel()
        self.context = nil
    }

    // MARK: What this side sends

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        guard !ended, let relay else { return }
        if relay.watchesActivity { relay.noteActivity(context.eventLoop.now) }
        let scan = cursor.scan(buffer)
        if scan.forwardable > 0, let slice = buffer.readSlice(length: scan.forwardable) {
            let closed = cursor.closed && scan.violation == nil
            if let peer, peer.sharesLoop(with: context) {
                // The usual case (the warm path): no hop, no closure.
                peer.peerSent(slice, atBoundary: scan.atBoundary, closeDone: closed)
            } else {
                peer?.onLoop { $0.peerSent(slice, atBoundary: scan.atBoundary, closeDone: closed) }
            }
        }
        if let violation = scan.violation {
            let who = sender == .client ? "the client" : "the container"
            relay.goAway(code: violation.closeCode, reason: "\(who) sent \(violation.reason)")
            return
        }
        if scan.sawClose, outputClosed {
            // This side answered a close Berth sent it: the handshake is done.
            closeNow()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let peer, peer.sharesLoop(with: context) {
            peer.context?.flush()
        } else {
            peer?.onLoop { $0.context?.flush() }
        }
        // The next read, asked for here: nothing behind the relay reads.
        read(context: context)
    }

    /// Whether this side's channel runs on the loop of `other`.
    func sharesLoop(with other: ChannelHandlerContext) -> Bool {
        guard let loop = context?.eventLoop else { return false }
        return loop === other.eventLoop
    }

    /// Reads stop while the other side cannot take more (they go on from
    /// ``resumeReads()`` once it is writable again).
    func read(context: ChannelHandlerContext) {
        if let peerChannel = peer?.channel, !peerChannel.isWritable, !ended {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { peer?.onLoop { $0.resumeReads() } }
        context.fireChannelWritabilityChanged()
    }

    private func resumeReads() {
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    /// The server shuts down gracefully: the client hears 1001 (and its connection is not cut
    /// as idle by the HTTP server behind this handler).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            relay?.goAway(code: 1001, reason: "the server is shutting down")
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        closeTimer?.cancel()
        idleTimer?.cancel()
        let clean = cursor.closed
        let sender = self.sender
        peer?.onLoop { $0.peerEnded(clean: clean, peerSender: sender) }
        peer = nil
        relay.sideEnded()
        relay = nil
        context.fireChannelInactive()
    }

    // MARK: What the other side sent

    /// `closeDone`: the peer's close frame began in or before these bytes.
    private func peerSent(_ buffer: ByteBuffer, atBoundary: Bool, closeDone: Bool) {
        guard let context, !outputClosed, !ended else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        outputAtBoundary = atBoundary
        if let close = pendingClose, atBoundary {
            pendingClose = nil
            sendClose(code: close.code, reason: close.reason)
        } else if closeDone, atBoundary {
            // The peer's close frame went through whole: nothing may follow it.
            outputClosed = true
        }
    }

    /// The other side's connection closed: this one follows, after a close frame of Berth's
    /// if the other side sent none (and this side is between frames).
    private func peerEnded(clean: Bool, peerSender: FrameCursor.Sender) {
        guard let context, !ended else { return }
        if !clean, !outputClosed, outputAtBoundary {
            let reason = peerSender == .client ? "the client went away" : "the container's connection ended"
            context.write(wrapOutboundOut(CloseFrame.make(code: peerSender == .client ? 1001 : 1011, reason: reason, masked: sender == .container)), promise: nil)
            outputClosed = true
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: Berth's close

    /// Ends this side with Berth's close frame as soon as what is being written to it reaches
    /// a frame boundary (within 2 s, or the connection is cut), then waits up to 1 s for the
    /// side's own close frame before closing the connection.
    func goAway(code: UInt16, reason: String) {
        guard let context, !ended, !outputClosed, pendingClose == nil else { return }
        if outputAtBoundary {
            sendClose(code: code, reason: reason)
        } else {
            pendingClose = (code, reason)
            closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { [self] in closeNow() }
        }
    }

    private func sendClose(code: UInt16, reason: String) {
        guard let context else { return }
        outputClosed = true
        context.writeAndFlush(wrapOutboundOut(CloseFrame.make(code: code, reason: reason, masked: sender == .container)), promise: nil)
        closeTimer?.cancel()
        if cursor.closed {
            // This side had sent its close already: nothing to wait for.
            closeNow()
            return
        }
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in closeNow() }
    }

    private func closeNow() {
        guard let context, !ended else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: idle_timeout (on the client's side)

    private func armIdleTimer(_ timeout: TimeAmount) {
        guard let context, let relay else { return }
        let last = NIODeadline.uptimeNanoseconds(UInt64(max(0, relay.lastActivity.load(ordering: .relaxed))))
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: last + timeout) { [self] in
            guard !ended else { return }
            let now = context.eventLoop.now
            let idleSince = NIODeadline.uptimeNanoseconds(UInt64(max(0, relay.lastActivity.load(ordering: .relaxed))))
            if now - idleSince >= timeout {
                relay.goAway(code: 1001, reason: "idle for berth.websockets.idle_timeout")
            } else {
                armIdleTimer(timeout)
            }
        }
    }
}
