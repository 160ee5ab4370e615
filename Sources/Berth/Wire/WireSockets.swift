public import BerthCore
public import NIOCore
import Synchronization

/// WebSockets carried over the link as messages, by stream: a `WebSocketPair` a Worker
/// process answered a request with (the request's stream), and a container's socket it reads
/// itself (its handle). In the Worker process each is a ``LinkedSocket``; in the server, a
/// relay between the link and the socket's real end (the client's connection, the
/// container's socket).
package final class WireSockets: Sendable {
    private enum Entry {
        /// The Worker's end.
        case linked(LinkedSocket)
        /// The server's relay, its real end attached or not yet.
        case relay(Relay)
    }

    private let entries = Mutex<[UInt32: Entry]>([:])

    package init() {}

    /// The Worker's end of socket `id` (made the first time; `opened` runs then).
    package func linked(_ id: UInt32, link: WireLink, opened: () -> Void = {}) -> LinkedSocket {
        let (socket, made) = entries.withLock { entries -> (LinkedSocket, Bool) in
            if case .linked(let known)? = entries[id] { return (known, false) }
            let socket = LinkedSocket(id: id, link: link) { [weak self] in self?.remove(id) }
            entries[id] = .linked(socket)
            return (socket, true)
        }
        if made { opened() }
        return socket
    }

    /// Relays socket `id` between the link and `local` (the server's real end), until either
    /// closes; `holding` is kept until then (a request's place among those in flight).
    package func attach(_ id: UInt32, local: any WebSocketPeer, link: WireLink, holding: (any Sendable)? = nil) {
        relay(id).start(local: local, link: link, holding: holding) { [weak self] in self?.remove(id) }
    }

    /// Socket `id` will not be attached: the Worker's end is told it closed.
    package func abandon(_ id: UInt32, link: WireLink, code: UInt16, reason: String) {
        remove(id)
        link.send(Self.closeFrame(id, code: code, reason: reason))
    }

    /// A `socketMessage` or `socketClose` frame (on the event loop). In the server, frames
    /// for a socket not attached yet wait for it.
    package func received(_ frame: WireFrame, server: Bool) {
        guard let inbound = Inbound(frame) else { return }
        let entry: Entry? = entries.withLock { entries in
            if let known = entries[frame.stream] { return known }
            guard server else { return nil }
            let relay = Relay(id: frame.stream)
            entries[frame.stream] = .relay(relay)
            return .relay(relay)
        }
        switch entry {
        case .linked(let socket)?: socket.received(inbound)
        case .relay(let relay)?: relay.inbox.yield(inbound)
        case nil: break
        }
    }

    /// The link closed: every socket ends.
    package func closeAll() {
        let all = entries.withLock { entries in
            defer { entries = [:] }
            return Array(entries.values)
        }
        for entry in all {
            switch entry {
            case .linked(let socket): socket.received(.close(1011, "the link to the server closed"))
            case .relay(let relay): relay.inbox.yield(.close(1012, "the Worker process ended"))
            }
        }
    }

    private func relay(_ id: UInt32) -> Relay {
        entries.withLock { entries in
            if case .relay(let known)? = entries[id] { return known }
            let relay = Relay(id: id)
            entries[id] = .relay(relay)
            return relay
        }
    }

    private func remove(_ id: UInt32) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    static func messageFrame(_ id: UInt32, _ message: WebSocketMessage) -> WireFrame {
        var payload = ByteBuffer()
        switch message {
        case .text(let text):
            payload.writeInteger(UInt8(1))
            payload.writeString(text)
        case .binary(var bytes):
            payload.writeInteger(UInt8(2))
            payload.writeBuffer(&bytes)
        }
        return WireFrame(.socketMessage, stream: id, payload: payload)
    }

    static func closeFrame(_ id: UInt32, code: UInt16, reason: String) -> WireFrame {
        var payload = ByteBuffer()
        payload.writeInteger(code)
        payload.writeString(reason)
        return WireFrame(.socketClose, stream: id, payload: payload)
    }

    /// What arrives for a socket.
    enum Inbound: Sendable {
        case message(WebSocketMessage)
        case close(UInt16, String)

        init?(_ frame: WireFrame) {
            var payload = frame.payload
            switch frame.kind {
            case .socketMessage:
                switch payload.readInteger(as: UInt8.self) {
                case 1: self = .message(.text(payload.readString(length: payload.readableBytes) ?? ""))
                case 2: self = .message(.binary(payload))
                default: return nil
                }
            case .socketClose:
                let code = payload.readInteger(as: UInt16.self) ?? 1005
                self = .close(code, payload.readString(length: payload.readableBytes) ?? "")
            default:
                return nil
            }
        }
    }

    /// The server's relay of one socket: what the Worker sends waits in `inbox` until the
    /// real end is attached, then goes to it in order; what the real end receives goes to
    /// the Worker.
    final class Relay: Sendable {
        let id: UInt32
        let inbox: AsyncStream<Inbound>.Continuation
        private let stream: AsyncStream<Inbound>
        private let started = Atomic(false)

        init(id: UInt32) {
            self.id = id
            (stream, inbox) = AsyncStream<Inbound>.makeStream()
        }

        func start(local: any WebSocketPeer, link: WireLink, holding: (any Sendable)?, done: @escaping @Sendable () -> Void) {
            guard !started.exchange(true, ordering: .relaxed) else { return }
            let (stream, inbox, id) = (self.stream, self.inbox, self.id)
            // The Worker's messages to the real end, in order.
            Task {
                for await item in stream {
                    switch item {
                    case .message(let message):
                        try? await local.send(message)
                    case .close(let code, let reason):
                        await local.close(code: code, reason: reason)
                        return
                    }
                }
            }
            // The real end's messages to the Worker, then its close.
            Task {
                for await message in local.incoming {
                    link.send(WireSockets.messageFrame(id, message))
                }
                _ = holding
                link.send(WireSockets.closeFrame(id, code: local.closeCode ?? 1005, reason: ""))
                inbox.finish()
                done()
            }
        }
    }
}

/// A Worker process's end of a WebSocket whose real end is in the server: what it sends
/// crosses the link as messages, what the server relays comes back the same way.
package final class LinkedSocket: WebSocketPeer {
    let id: UInt32
    let link: WireLink
    private let done: @Sendable () -> Void
    private let state = Mutex<UInt16?>(nil)
    private let messages: AsyncStream<WebSocketMessage>
    private let continuation: AsyncStream<WebSocketMessage>.Continuation

    init(id: UInt32, link: WireLink, done: @escaping @Sendable () -> Void) {
        self.id = id
        self.link = link
        self.done = done
        (messages, continuation) = AsyncStream<WebSocketMessage>.makeStream()
    }

    package func send(_ message: WebSocketMessage) async throws {
        if let code = closeCode { throw BerthError(.conflict, "the WebSocket is closed (code \(code))") }
        link.send(WireSockets.messageFrame(id, message))
    }

    package func close(code: UInt16, reason: String) async {
        guard closing(code) else { return }
        link.send(WireSockets.closeFrame(id, code: code, reason: reason))
    }

    package var closeCode: UInt16? { state.withLock { $0 } }

    package var incoming: any AsyncSequence<WebSocketMessage, Never> & Sendable { messages }

    fileprivate func received(_ inbound: WireSockets.Inbound) {
        switch inbound {
        case .message(let message): continuation.yield(message)
        case .close(let code, _): _ = closing(code)
        }
    }

    /// Records the close; true the first time.
    private func closing(_ code: UInt16) -> Bool {
        let first = state.withLock { state -> Bool in
            guard state == nil else { return false }
            state = code
            return true
        }
        if first {
            continuation.finish()
            done()
        }
        return first
    }
}
