import BerthCore
import NIOCore
import NIOWebSocket
import Synchronization

/// A WebSocket whose messages Berth reads and writes itself, on one channel: the client's
/// end of a Worker's `WebSocketPair` (Berth the server), or a container's socket that a
/// Worker accepted (Berth the client). Messages arrive whole (at most
/// `berth.websockets.max_message_bytes`, else 1009) with backpressure: when the reader falls
/// behind, the connection is not read. Pings are answered; a close frame is answered and
/// ends ``messages``.
public final class WebSocketEndpoint: ClosableSocket, Sendable {
    public enum Role: Sendable {
        /// Berth is the server: the peer is a client whose frames are masked.
        case server
        /// Berth is the client (of a container): its own frames are masked.
        case client
    }

    public typealias Messages = NIOAsyncSequenceProducer<WebSocketMessage, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, EndpointDelegate>

    let channel: any Channel
    let handler: EndpointHandler
    /// The messages from the peer, in order; they end when the socket closes.
    public let messages: Messages
    private let closeState = Mutex<(code: UInt16?, reason: String)>((nil, ""))

    /// Makes the endpoint; add ``makeHandlers()`` to `channel` (where its HTTP handlers
    /// were) on its event loop.
    public init(channel: any Channel, role: Role, maxMessageBytes: Int, onEnd: (@Sendable () -> Void)? = nil) {
        self.channel = channel
        let delegate = EndpointDelegate()
        let made = NIOAsyncSequenceProducer.makeSequence(
            elementType: WebSocketMessage.self,
            backPressureStrategy: NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark(lowWatermark: 2, highWatermark: 16),
            finishOnDeinit: false, delegate: delegate
        )
        messages = made.sequence
        handler = EndpointHandler(role: role, maxMessageBytes: maxMessageBytes, source: made.source, onEnd: onEnd)
        delegate.handler = handler
        handler.endpoint = self
    }

    /// The handlers that carry the endpoint, in order; made on the channel's event loop.
    public func makeHandlers() -> [any ChannelHandler] {
        [ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: handler.maxMessageBytes)), WebSocketFrameEncoder(), handler]
    }

    /// The close code the socket ended with (the peer's, or Berth's), once it has.
    public var closeCode: UInt16? { closeState.withLock { $0.code } }
    public var closeReason: String { closeState.withLock { $0.reason } }

    func noteClose(code: UInt16?, reason: String) {
        closeState.withLock { state in
            if state.code == nil { state = (code, reason) }
        }
    }

    /// Sends one message; returns once it was written (or throws when the socket closed).
    public func send(_ message: WebSocketMessage) async throws {
        let handler = self.handler
        try await channel.eventLoop.flatSubmit { handler.send(message) }.get()
    }

    /// Sends a close frame with `code` and `reason`, waits (up to 1 s) for the peer's, and
    /// closes the connection.
    public func close(code: UInt16 = 1000, reason: String = "") async {
        let handler = self.handler
        _ = try? await channel.eventLoop.submit { handler.goAway(code: code, reason: reason) }.get()
        try? await channel.closeFuture.get()
    }

    public func goAway(code: UInt16, reason: String) {
        let handler = self.handler
        channel.eventLoop.execute { handler.goAway(code: code, reason: reason) }
    }
}

/// Resumes the endpoint's reads when its reader wants more.
public final class EndpointDelegate: NIOAsyncSequenceProducerDelegate, @unchecked Sendable {
    weak var handler: EndpointHandler?

    public func produceMore() {
        guard let handler, let loop = handler.loop else { return }
        loop.execute { handler.resumeReads() }
    }

    public func didTerminate() {
        guard let handler, let loop = handler.loop else { return }
        // Nobody reads the messages any more: the socket ends.
        loop.execute { handler.goAway(code: 1001, reason: "going away") }
    }
}

/// The frames of a ``WebSocketEndpoint``: messages assembled, pings answered, the close
/// handshake made.
public final class EndpointHandler: ChannelDuplexHandler, RemovableChannelHandler, @unchecked Sendable {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundIn = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame
    typealias Source = NIOAsyncSequenceProducer<WebSocketMessage, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, EndpointDelegate>.Source

    let role: WebSocketEndpoint.Role
    let maxMessageBytes: Int
    private let source: Source
    private let onEnd: (@Sendable () -> Void)?
    weak var endpoint: WebSocketEndpoint?
    private(set) var loop: (any EventLoop)?
    private var context: ChannelHandlerContext?
    private var partial: (opcode: WebSocketOpcode, data: ByteBuffer)?
    private var readHeld = false
    private var wantsMore = true
    private var closeSent = false
    private var ended = false
    private var closeTimer: Scheduled<Void>?

    init(role: WebSocketEndpoint.Role, maxMessageBytes: Int, source: Source, onEnd: (@Sendable () -> Void)?) {
        self.role = role
        self.maxMessageBytes = maxMessageBytes
        self.source = source
        self.onEnd = onEnd
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        loop = context.eventLoop
        if !context.channel.isActive { return channelInactive(context: context) }
        // Reads come from here, not from the handlers behind (a client connection's HTTP
        // handlers, which may stop asking for more once idle).
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        read(context: context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        read(context: context)
        context.fireChannelReadComplete()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        self.context = nil
    }

    private var maskKey: WebSocketMaskingKey? { role == .client ? .random() : nil }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !ended else { return }
        if (role == .server) != (frame.maskKey != nil) {
            return goAway(code: 1002, reason: role == .server ? "an unmasked frame from the client" : "a masked frame from the server")
        }
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .text, .binary:
            guard partial == nil else { return goAway(code: 1002, reason: "a new message before the last one's final fragment") }
            if frame.fin { deliver(frame.opcode, payload) } else { partial = (frame.opcode, payload) }
        case .continuation:
            guard var message = partial else { return goAway(code: 1002, reason: "a continuation frame outside a message") }
            guard message.data.readableBytes + payload.readableBytes <= maxMessageBytes else {
                return goAway(code: 1009, reason: "message larger than \(maxMessageBytes) bytes (berth.websockets.max_message_bytes)")
            }
            partial = nil
            message.data.writeBuffer(&payload)
            if frame.fin { deliver(message.opcode, message.data) } else { partial = message }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, maskKey: maskKey, data: payload)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var reasonBytes = payload
            let code = reasonBytes.readInteger(as: UInt16.self)
            let reason = reasonBytes.readString(length: reasonBytes.readableBytes) ?? ""
            endpoint?.noteClose(code: code ?? 1005, reason: reason)
            if !closeSent {
                closeSent = true
                var echo = context.channel.allocator.buffer(capacity: 2)
                if let code { echo.writeInteger(code) }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: maskKey, data: echo))).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            } else {
                context.close(promise: nil)
            }
        default:
            goAway(code: 1002, reason: "a frame with a reserved opcode")
        }
    }

    private func deliver(_ opcode: WebSocketOpcode, _ data: ByteBuffer) {
        let message: WebSocketMessage = opcode == .text ? .text(String(buffer: data)) : .binary(data)
        if case .stopProducing = source.yield(message) { wantsMore = false }
    }

    public func read(context: ChannelHandlerContext) {
        if !wantsMore && !ended {
            readHeld = true
            return
        }
        context.read()
    }

    func resumeReads() {
        wantsMore = true
        guard readHeld, let context else { return }
        readHeld = false
        context.read()
    }

    func send(_ message: WebSocketMessage) -> EventLoopFuture<Void> {
        guard let context, !closeSent, !ended else {
            return (loop ?? endpoint!.channel.eventLoop).makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let frame: WebSocketFrame
        switch message {
        case .text(let text): frame = WebSocketFrame(fin: true, opcode: .text, maskKey: maskKey, data: context.channel.allocator.buffer(string: text))
        case .binary(let bytes): frame = WebSocketFrame(fin: true, opcode: .binary, maskKey: maskKey, data: bytes)
        }
        return context.writeAndFlush(wrapOutboundOut(frame))
    }

    /// Berth's close: the frame, then up to 1 s for the peer's before the connection closes.
    func goAway(code: UInt16, reason: String) {
        guard let context, !ended, !closeSent else { return }
        closeSent = true
        endpoint?.noteClose(code: code, reason: reason)
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(String(decoding: reason.utf8.prefix(123), as: UTF8.self))
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: maskKey, data: payload)), promise: nil)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { context.close(promise: nil) }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { return goAway(code: 1001, reason: "the server is shutting down") }
        context.fireUserInboundEventTriggered(event)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOWebSocketError, case .invalidFrameLength = error {
            return goAway(code: 1009, reason: "message larger than \(maxMessageBytes) bytes (berth.websockets.max_message_bytes)")
        }
        goAway(code: 1002, reason: "malformed frames")
    }

    public func channelInactive(context: ChannelHandlerContext) {
        guard !ended else { return }
        ended = true
        closeTimer?.cancel()
        endpoint?.noteClose(code: 1006, reason: "the connection closed without a close frame")
        source.finish()
        onEnd?()
        context.fireChannelInactive()
    }
}

extension WebSocketEndpoint: WebSocketPeer {
    public var incoming: any AsyncSequence<WebSocketMessage, Never> & Sendable { messages }
}
