import BerthConfig
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// A WebSocket proxied between a client connection and a container's, frame boundary by frame
/// boundary: bytes pass as they arrive, in both directions, each with backpressure (a side
/// that cannot take more stops the reads of the other), and neither side's message is ever
/// held whole. Because each direction's ``FrameCursor`` knows where its frames end, Berth can
/// end the socket at any moment with a close frame of its own: when the container stops
/// (1001), when the server shuts down (1001), after `idle_timeout` (1001), on a frame that
/// breaks the protocol (1002) or the size limit (1009).
///
/// One ``RelaySide`` handler sits on each channel and owns that channel's state, on that
/// channel's event loop; the sides talk by messages, so the two channels may be on different
/// loops (they share one on the warm path).
public final class FrameRelay: ClosableSocket, @unchecked Sendable {
    /// The sides, each kept alive by its channel's pipeline (and, until ``start()``, here).
    private weak var client: RelaySide?
    private weak var container: RelaySide?
    fileprivate let unstarted: NIOLockedValueBox<(client: RelaySide, container: RelaySide, upstream: SwitchedUpstream)?>
    fileprivate let lease: ContainerLease?
    fileprivate let registration: (sockets: OpenSockets, id: Int)?
    private let ended = Atomic(0)
    /// Uptime nanoseconds of the last bytes either way (`idle_timeout`, frame activity).
    let lastActivity = Atomic<Int64>(0)
    private let lastTouch = Atomic<Int64>(0)
    private let touchesFrames: Bool
    let settings: WebSocketSettings
    private let onEnd: (@Sendable () -> Void)?

    /// `upstream`: the container's connection after its 101; `lease`: held until the socket
    /// ends when an open socket keeps the object awake, else released at once and each
    /// frame counts as activity; `registration`: its place among the object's open sockets.
    public init(
        upstream: SwitchedUpstream, lease: ContainerLease?, registration: (sockets: OpenSockets, id: Int)?, settings: WebSocketSettings,
        onEnd: (@Sendable () -> Void)? = nil
    ) {
        self.settings = settings
        self.registration = registration
        self.onEnd = onEnd
        self.lease = lease
        touchesFrames = lease.map { !$0.socketHoldsObject } ?? false
        if touchesFrames { lease?.releaseNow() }
        let client = RelaySide(sender: .client, maxMessageBytes: settings.maxMessageBytes)
        let container = RelaySide(sender: .container, maxMessageBytes: settings.maxMessageBytes)
        client.peer = container
        container.peer = client
        container.channel = upstream.channel
        self.client = client
        self.container = container
        unstarted = NIOLockedValueBox((client, container, upstream))
        client.relay = self
        container.relay = self
        lastActivity.store(Int64(upstream.channel.eventLoop.now.uptimeNanoseconds), ordering: .relaxed)
    }

    /// The handler to put on the client's channel where its HTTP handlers were; once it is
    /// there, call ``start()``.
    public var clientHandler: any ChannelHandler & Sendable { unstarted.withLockedValue { $0!.client } }

    /// Connects the container's side (what it sent with and after its 101 flows now) and
    /// takes the socket's place among its object's.
    public func start() {
        guard let parts = unstarted.withLockedValue({ value in defer { value = nil }; return value }) else { return }
        parts.upstream.handOver(to: parts.container)
        if let registration { registration.sockets.attach(registration.id, self) }
    }

    public func goAway(code: UInt16, reason: String) {
        client?.onLoop { $0.goAway(code: code, reason: reason) }
        container?.onLoop { $0.goAway(code: code, reason: reason) }
    }

    /// Bytes arrived on either side.
    func noteActivity(_ now: NIODeadline) {
        let nanos = Int64(now.uptimeNanoseconds)
        lastActivity.store(nanos, ordering: .relaxed)
        guard touchesFrames, nanos - lastTouch.load(ordering: .relaxed) >= 1_000_000_000 else { return }
        lastTouch.store(nanos, ordering: .relaxed)
        lease?.touch()
    }

    /// One side's connection closed; when both have, the socket's place and lease go back.
    func sideEnded() {
        guard ended.add(1, ordering: .acquiringAndReleasing).newValue == 2 else { return }
        if touchesFrames { lease?.touch() }
        lease?.releaseNow()
        if let registration { registration.sockets.close(registration.id) }
        onEnd?()
    }
}

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
        if !context.channel.isActive { channelInactive(context: context) }
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
        relay.noteActivity(context.eventLoop.now)
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
        context.fireChannelReadComplete()
    }

    /// Whether this side's channel runs on the loop of `other`.
    func sharesLoop(with other: ChannelHandlerContext) -> Bool {
        guard let loop = context?.eventLoop else { return false }
        return loop === other.eventLoop
    }

    /// Reads stop while the other side cannot take more.
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

/// A container's connection right after its `101 Switching Protocols`: the HTTP handlers are
/// gone, and what the container sent with or after the 101 waits, with reads held, until
/// the socket is relayed or accepted (``handOver(to:)``).
public final class SwitchedUpstream: Sendable {
    public let channel: any Channel
    let hold: UpgradeHold

    init(channel: any Channel, hold: UpgradeHold) {
        self.channel = channel
        self.hold = hold
    }

    /// Puts `handler` after the hold, replays what it held into it, and removes the hold.
    func handOver(to handler: any ChannelHandler & Sendable) {
        handOver { [handler] in [handler] }
    }

    /// `makeHandlers` runs on the connection's event loop.
    func handOver(_ makeHandlers: @escaping @Sendable () -> [any ChannelHandler]) {
        let hold = self.hold
        if channel.eventLoop.inEventLoop {
            hold.handOver(to: makeHandlers())
        } else {
            channel.eventLoop.execute { hold.handOver(to: makeHandlers()) }
        }
    }

    /// Closes the connection (the socket was not used).
    public func close() {
        channel.close(promise: nil)
    }
}

/// Holds a switched connection's bytes (and its reads) until a handler takes over.
final class UpgradeHold: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    private var held: [ByteBuffer] = []
    private var inactive = false
    private var context: ChannelHandlerContext?
    private var handedOver = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if handedOver { return context.fireChannelRead(data) }
        held.append(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if handedOver { return context.fireChannelInactive() }
        inactive = true
    }

    func read(context: ChannelHandlerContext) {
        if handedOver { context.read() }
    }

    func handOver(to handlers: [any ChannelHandler]) {
        guard let context else { return }
        do {
            try context.pipeline.syncOperations.addHandlers(handlers, position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        handedOver = true
        for buffer in held { context.fireChannelRead(wrapInboundOut(buffer)) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        held = []
        if inactive { return context.fireChannelInactive() }
        context.read()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    typealias InboundOut = ByteBuffer
}

extension FrameRelay {
    /// The relay will not start (its client went away first): the container's connection
    /// closes and the socket's place and lease go back.
    public func abandon() {
        guard let parts = unstarted.withLockedValue({ value in defer { value = nil }; return value }) else { return }
        parts.upstream.close()
        lease?.releaseNow()
        if let registration { registration.sockets.close(registration.id) }
    }
}

extension SwitchedUpstream {
    /// A switched connection made from a channel that carries no HTTP (harnesses, the fuzz
    /// target): a hold is added to it, as after a real 101.
    package static func holding(_ channel: any Channel) throws -> SwitchedUpstream {
        let hold = UpgradeHold()
        try channel.pipeline.syncOperations.addHandler(hold)
        return SwitchedUpstream(channel: channel, hold: hold)
    }
}
