import NIOCore

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

extension SwitchedUpstream {
    /// A switched connection made from a channel that carries no HTTP (harnesses, the fuzz
    /// target): a hold is added to it, as after a real 101.
    package static func holding(_ channel: any Channel) throws -> SwitchedUpstream {
        let hold = UpgradeHold()
        try channel.pipeline.syncOperations.addHandler(hold)
        return SwitchedUpstream(channel: channel, hold: hold)
    }
}
