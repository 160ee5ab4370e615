import BerthConfig
@testable import BerthRuntime
import NIOCore
import NIOEmbedded
import Testing

/// The relay between two channels, without sockets: what each side receives, and where
/// Berth's close frames land.
@Suite("WebSocket relay: frames pass as they come; Berth's close waits for a boundary")
struct FrameRelayTests {
    struct Pair {
        let client: EmbeddedChannel
        let container: EmbeddedChannel
        let relay: FrameRelay
    }

    static func pair(settings: WebSocketSettings = WebSocketSettings()) throws -> Pair {
        let loop = EmbeddedEventLoop()
        let client = EmbeddedChannel(loop: loop)
        let container = EmbeddedChannel(loop: loop)
        let hold = UpgradeHold()
        try container.pipeline.syncOperations.addHandler(hold)
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try container.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        let relay = FrameRelay(upstream: SwitchedUpstream(channel: container, hold: hold), lease: nil, registration: nil, settings: settings)
        try client.pipeline.syncOperations.addHandler(relay.clientHandler)
        relay.start()
        return Pair(client: client, container: container, relay: relay)
    }

    static func frame(_ opcode: UInt8, _ payload: [UInt8], masked: Bool) -> [UInt8] {
        FrameCursorTests.frame(opcode, payload, masked: masked)
    }

    /// Everything written to `channel` so far.
    static func written(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        return bytes
    }

    static func send(_ bytes: [UInt8], from channel: EmbeddedChannel) throws {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    }

    @Test("bytes go both ways unchanged, however they are split")
    func passThrough() throws {
        let p = try Self.pair()
        let fromClient = Self.frame(0x1, Array("hello".utf8), masked: true)
        try Self.send(Array(fromClient.prefix(3)), from: p.client)
        try Self.send(Array(fromClient.dropFirst(3)), from: p.client)
        #expect(try Self.written(p.container) == fromClient)
        let fromContainer = Self.frame(0x2, Array(repeating: 5, count: 70_000), masked: false)
        try Self.send(fromContainer, from: p.container)
        #expect(try Self.written(p.client) == fromContainer)
    }

    @Test("a stop in the middle of a frame: the frame ends first, then the client's 1001; the container's comes at once")
    func closeAtBoundary() throws {
        let p = try Self.pair()
        let big = Self.frame(0x2, Array(repeating: 7, count: 1000), masked: false)
        try Self.send(Array(big.prefix(400)), from: p.container)
        #expect(try Self.written(p.client) == Array(big.prefix(400)))
        p.relay.goAway(code: 1001, reason: "the container is stopping")
        #expect(try Self.written(p.client).isEmpty, "no close frame inside the container's frame")
        var cursor = FrameCursor(sender: .client, maxMessageBytes: 1 << 20)
        let toContainer = try Self.written(p.container)
        let scan = cursor.scan(ByteBuffer(bytes: toContainer))
        #expect(scan.sawClose && scan.atBoundary && scan.violation == nil, "a masked close frame, whole, to the container")
        try Self.send(Array(big.dropFirst(400)), from: p.container)
        let rest = try Self.written(p.client)
        let close = CloseFrame.make(code: 1001, reason: "the container is stopping", masked: false)
        #expect(rest == Array(big.dropFirst(400)) + Array(close.readableBytesView), "the rest of the frame, then Berth's close")
        // The client answers the close: its connection closes.
        try Self.send(Self.frame(0x8, [0x03, 0xE9], masked: true), from: p.client)
        #expect(!p.client.isActive)
    }

    @Test("an unmasked frame from the client: 1002 to both sides, nothing of it forwarded")
    func violation() throws {
        let p = try Self.pair()
        try Self.send(Self.frame(0x1, Array("x".utf8), masked: false), from: p.client)
        var cursor = FrameCursor(sender: .client, maxMessageBytes: 1024)
        let toContainer = try Self.written(p.container)
        let scan = cursor.scan(ByteBuffer(bytes: toContainer))
        #expect(scan.sawClose && cursor.frames == 1, "only Berth's close went to the container")
        var clientBytes = ByteBuffer(bytes: try Self.written(p.client))
        #expect(clientBytes.readBytes(length: 4) == [0x88, UInt8(clientBytes.readableBytes + 2), 0x03, 0xEA], "1002 to the client")
    }

    @Test("the container's connection ends without a close frame: the client gets 1011 and its connection closes")
    func containerGone() throws {
        let p = try Self.pair()
        try Self.send(Self.frame(0x1, Array("bye".utf8), masked: false), from: p.container)
        _ = try Self.written(p.client)
        p.container.pipeline.fireChannelInactive()
        var bytes = ByteBuffer(bytes: try Self.written(p.client))
        #expect(bytes.readBytes(length: 4)?.suffix(2) == [0x03, 0xF3], "1011")
        #expect(!p.client.isActive)
    }

    @Test("idle_timeout: no frame either way for that long, 1001 to both")
    func idle() throws {
        var settings = WebSocketSettings()
        settings.idleTimeout = .seconds(5)
        let p = try Self.pair(settings: settings)
        let loop = p.client.embeddedEventLoop
        loop.advanceTime(by: .seconds(3))
        try Self.send(Self.frame(0x9, [], masked: true), from: p.client)
        _ = try Self.written(p.container)
        loop.advanceTime(by: .seconds(3))
        #expect(try Self.written(p.client).isEmpty, "a frame 3 s ago: not idle yet")
        loop.advanceTime(by: .seconds(3))
        var bytes = ByteBuffer(bytes: try Self.written(p.client))
        #expect(bytes.readBytes(length: 4)?.suffix(2) == [0x03, 0xE9], "1001 once idle for 5 s")
    }
}
