/// What keeps an object with open WebSockets awake (`berth.classes.<Class>.websocket_activity`).
public enum WebSocketActivity: String, Sendable, Codable, Equatable, CaseIterable {
    /// An open WebSocket keeps its object awake; `sleep_after` counts from the moment the
    /// last one closed (the default).
    case open
    /// Only frames count: `sleep_after` counts from the last frame either way, and an idle
    /// stop closes the sockets still open with 1001.
    case frames
}
