import Foundation

/// Whether the container engine answers, as `GET /api/server` reports it (`engine`).
public struct EngineHealth: Sendable, Codable, Equatable {
    public var up: Bool
    /// When it last went up or down (or the server started).
    public var since: Date
    /// Why it does not answer, while down.
    public var error: String?

    public init(up: Bool, since: Date, error: String? = nil) {
        self.up = up
        self.since = since
        self.error = error
    }
}
