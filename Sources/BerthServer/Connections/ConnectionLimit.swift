import BerthCore
import NIOCore
import Synchronization

/// The open connections of one listener, against `berth.limits.max_connections`.
final class ConnectionCount: Sendable {
    let limit: Int
    private let open = Atomic(0)
    private let refusedCount = Atomic(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection in; false (and nothing counted) when the listener is full.
    func enter() -> Bool {
        while true {
            let current = open.load(ordering: .relaxed)
            guard current < limit else {
                refusedCount.add(1, ordering: .relaxed)
                return false
            }
            if open.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing).exchanged { return true }
        }
    }

    func leave() {
        open.subtract(1, ordering: .acquiringAndReleasing)
    }

    var current: Int { open.load(ordering: .relaxed) }
    /// Connections refused since the listener started.
    var refused: Int { refusedCount.load(ordering: .relaxed) }
}

/// First in every client connection's pipeline: counts the connection in while it is open.
/// One past the limit gets `503` and is closed at once, before anything of it is parsed;
/// the connections already open are not touched. On a TLS listener (`answers` false) it is
/// closed without a word: a plain-text answer means nothing to a TLS client, and a handshake
/// for a refusal would cost what the limit saves.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let refusal: String = {
        let error = BerthError(.capacityExceeded, "the server has berth.limits.max_connections connections open; try again shortly")
        let body = error.message + "\n"
        return "HTTP/1.1 \(error.code.httpStatus) \(error.code.httpReason)\r\ncontent-type: text/plain; charset=utf-8\r\n"
            + "content-length: \(body.utf8.count)\r\nretry-after: 1\r\nconnection: close\r\n\r\n\(body)"
    }()

    private let count: ConnectionCount
    private let answers: Bool
    private var counted = false
    private var refused = false

    init(count: ConnectionCount, answers: Bool = true) {
        self.count = count
        self.answers = answers
    }

    func channelActive(context: ChannelHandlerContext) {
        if count.enter() {
            counted = true
            context.fireChannelActive()
            return
        }
        refused = true
        guard answers else {
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: Self.refusal.utf8.count)
        buffer.writeString(Self.refusal)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refused { return }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            count.leave()
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted {
            counted = false
            count.leave()
        }
    }
}
