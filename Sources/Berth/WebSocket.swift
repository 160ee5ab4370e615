public import BerthCore
import Synchronization

/// A WebSocket in a Worker: what Workers call a `WebSocket`.
///
/// - A container's socket: `stub.fetch(request)` of a handshake answers 101 with
///   ``Response/webSocket`` set. Return that response and Berth relays the socket between
///   the client and the container frame by frame; or call ``accept()`` and talk to the
///   container yourself with ``send(_:)`` and ``messages``.
/// - One end of a ``WebSocketPair``: return `Response(webSocket: pair.client)` and use
///   `pair.server` to talk to the client.
public final class WebSocket: Sendable {
    package enum Backend: Sendable {
        case container(any ContainerWebSocket)
        case pairClient(PairLink)
        case pairServer(PairLink)
    }

    package let backend: Backend

    package init(_ backend: Backend) {
        self.backend = backend
    }

    /// Starts reading a container's socket as messages (once it is accepted, it can no
    /// longer be returned to the client). The server end of a pair needs no `accept`.
    public func accept() throws(BerthError) {
        _ = try endpointNow()
    }

    private func endpointNow() throws(BerthError) -> (any WebSocketPeer)? {
        switch backend {
        case .container(let socket):
            guard let endpoint = socket.acceptMessages() else {
                throw BerthError(.conflict, "this WebSocket was returned to the client; its frames go there, not to the Worker")
            }
            return endpoint
        case .pairServer:
            return nil
        case .pairClient:
            throw BerthError(.invalidInput, "the client end of a WebSocketPair is for the response (Response(webSocket: pair.client)); talk through pair.server")
        }
    }

    private func endpoint() async throws(BerthError) -> any WebSocketPeer {
        if let endpoint = try endpointNow() { return endpoint }
        guard case .pairServer(let link) = backend, let endpoint = await link.endpoint() else {
            throw BerthError(.unavailable, "the WebSocketPair's client end never reached a client (the Worker's response was not its 101)")
        }
        return endpoint
    }

    /// Sends one message (text or binary); returns once it was written.
    public func send(_ message: WebSocketMessage) async throws {
        try await endpoint().send(message)
    }

    /// Sends a text message.
    public func send(_ text: String) async throws {
        try await send(.text(text))
    }

    /// Closes the socket with `code` (1000: normal) and `reason`.
    public func close(code: UInt16 = 1000, reason: String = "") async {
        guard let endpoint = try? await endpoint() else { return }
        await endpoint.close(code: code, reason: reason)
    }

    /// The peer's messages, whole and in order, until the socket closes (for a pair's server
    /// end, from the moment the client's connection switched).
    public var messages: Messages { Messages(socket: self) }

    /// The code the socket closed with (the peer's close frame, or Berth's), once it has.
    public var closeCode: UInt16? {
        get async { try? await endpoint().closeCode }
    }

    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = WebSocketMessage
        let socket: WebSocket

        public func makeAsyncIterator() -> Iterator { Iterator(socket: socket) }

        public struct Iterator: AsyncIteratorProtocol {
            let socket: WebSocket
            var base: (any AsyncIteratorProtocol<WebSocketMessage, Never>)?
            var finished = false

            public mutating func next() async throws -> WebSocketMessage? {
                if finished { return nil }
                if base == nil { base = try await socket.endpoint().incoming.makeAsyncIterator() }
                guard let message = await base!.next(isolation: nil) else {
                    finished = true
                    return nil
                }
                return message
            }
        }
    }
}

/// A container's socket as a Worker holds it, before it is relayed to the client or accepted.
package protocol ContainerWebSocket: Sendable {
    /// The socket as messages (the Worker reads it itself); the same on every call, nil once
    /// it is relayed to the client.
    func acceptMessages() -> (any WebSocketPeer)?
}

/// `new WebSocketPair()`: two connected ends. Return the client end in the Worker's response
/// (``Response/init(webSocket:headers:)``); keep the server end to exchange messages with the
/// client (`for try await message in pair.server.messages { … }`).
public struct WebSocketPair: Sendable {
    public let client: WebSocket
    public let server: WebSocket

    public init() {
        let link = PairLink()
        client = WebSocket(.pairClient(link))
        server = WebSocket(.pairServer(link))
    }
}

extension Request {
    /// Whether this request is a WebSocket handshake (`Upgrade: websocket`).
    public var isWebSocketUpgrade: Bool {
        UpgradeRequest.detect(in: headers.lazy.map { (name: $0.name.rawName, value: $0.value) }) == .webSocket
    }
}

/// The link between the two ends of a Worker's `WebSocketPair`: the server end's messages
/// come from the endpoint the gateway puts on the client's connection once the Worker's
/// 101 goes out (``attach(_:)``).
package final class PairLink: Sendable {
    private struct State {
        var endpoint: (any WebSocketPeer)?
        var failed = false
        var waiters: [CheckedContinuation<(any WebSocketPeer)?, Never>] = []
    }

    private let state = Mutex(State())

    package init() {}

    /// The client's connection carries the pair now.
    package func attach(_ endpoint: any WebSocketPeer) {
        let waiters = state.withLock { state in
            state.endpoint = endpoint
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: endpoint) }
    }

    /// The pair never reached a client (the response was not sent as a 101).
    package func fail() {
        let waiters = state.withLock { state in
            state.failed = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// The endpoint, once the gateway attached it; nil if it never will be.
    package func endpoint() async -> (any WebSocketPeer)? {
        await withCheckedContinuation { waiter in
            let ready: (any WebSocketPeer)?? = state.withLock { state in
                if let endpoint = state.endpoint { return .some(endpoint) }
                if state.failed { return .some(nil) }
                state.waiters.append(waiter)
                return .none
            }
            if let ready { waiter.resume(returning: ready) }
        }
    }
}
