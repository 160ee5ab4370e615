import BerthConfig
import BerthRuntime
import NIOCore
import NIOEmbedded

/// Bytes from both ends of a relayed WebSocket, with Berth's stops in between: whatever
/// arrives, each side receives a prefix of what the other sent, ending on a frame boundary of
/// it when Berth adds its close frame, and then that one close frame and nothing more.
///
/// Input: pieces separated by `|#|`; a piece's first byte says who sends the rest (bit 0:
/// the container) and whether Berth stops the socket before it (bit 1).
enum WebSocketFuzzing {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let container = EmbeddedChannel(loop: loop)
        _ = try? client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try? container.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        guard let upstream = try? SwitchedUpstream.holding(container) else { return }
        var settings = WebSocketSettings()
        settings.maxMessageBytes = 4096
        let relay = FrameRelay(upstream: upstream, lease: nil, registration: nil, settings: settings)
        guard (try? client.pipeline.syncOperations.addHandler(relay.clientHandler)) != nil else { return }
        relay.start()
        var sent: (client: [UInt8], container: [UInt8]) = ([], [])
        var received: (client: [UInt8], container: [UInt8]) = ([], [])
        for piece in split(bytes, at: Array("|#|".utf8)) where !piece.isEmpty {
            let flags = piece.first!
            let payload = Array(piece.dropFirst())
            if flags & 2 != 0 { relay.goAway(code: 1001, reason: "fuzz") }
            if flags & 1 != 0 {
                if container.isActive { sent.container += payload; _ = try? container.writeInbound(ByteBuffer(bytes: payload)) }
            } else {
                if client.isActive { sent.client += payload; _ = try? client.writeInbound(ByteBuffer(bytes: payload)) }
            }
            received.client += drain(client)
            received.container += drain(container)
        }
        relay.goAway(code: 1001, reason: "fuzz")
        loop.advanceTime(by: .seconds(5))
        received.client += drain(client)
        received.container += drain(container)
        check(received.client, from: sent.container, sender: .container, closeMasked: false)
        check(received.container, from: sent.client, sender: .client, closeMasked: true)
    }

    static func drain(_ channel: EmbeddedChannel) -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    /// `output` is `sent[..<k] + close?` for some frame boundary `k` of `sent`.
    static func check(_ output: [UInt8], from sent: [UInt8], sender: FrameCursor.Sender, closeMasked: Bool) {
        var common = 0
        while common < min(output.count, sent.count) && output[common] == sent[common] { common += 1 }
        if common == output.count { return }
        for k in stride(from: common, through: max(0, common - 131), by: -1) {
            let tail = Array(output[k...])
            guard isOneCloseFrame(tail, masked: closeMasked) else { continue }
            var cursor = FrameCursor(sender: sender, maxMessageBytes: 4096)
            let scan = cursor.scan(ByteBuffer(bytes: sent[..<k]))
            if k == 0 || (scan.atBoundary && scan.forwardable == k) { return }
        }
        preconditionFailure("a side received what its peer did not send, or Berth's close inside a frame: \(output.count) bytes out of \(sent.count) sent")
    }

    static func isOneCloseFrame(_ bytes: [UInt8], masked: Bool) -> Bool {
        guard bytes.count >= 2, bytes[0] == 0x88, (bytes[1] & 0x80 != 0) == masked else { return false }
        let length = Int(bytes[1] & 0x7F)
        return length <= 125 && bytes.count == 2 + (masked ? 4 : 0) + length
    }
}
