public import NIOCore

/// One WebSocket message.
public enum WebSocketMessage: Sendable, Equatable {
    case text(String)
    case binary(ByteBuffer)
}

/// A WebSocket whose messages Berth reads and writes itself (a Worker's end of a socket).
public protocol WebSocketPeer: Sendable {
    /// Sends one message; returns once it was written.
    func send(_ message: WebSocketMessage) async throws
    /// Closes with `code` and `reason`.
    func close(code: UInt16, reason: String) async
    /// The code the socket closed with, once it has.
    var closeCode: UInt16? { get }
    /// The peer's messages, whole and in order, until the socket closes; iterated once.
    var incoming: any AsyncSequence<WebSocketMessage, Never> & Sendable { get }
}
