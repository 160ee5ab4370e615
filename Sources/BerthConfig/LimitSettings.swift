import BerthCore

/// `berth.limits`: what one client, one connection and one name can cost the server. The
/// defaults are those an nginx or Go `http.Server` user expects; every one applies to the
/// gateway (both paths) and to the admin listener.
public struct LimitSettings: Sendable, Codable, Equatable {
    /// Time to receive a request head, from its first byte (nginx `client_header_timeout`,
    /// Go `ReadHeaderTimeout`): 408 and the connection closes.
    public var headerTimeout: Duration = .seconds(60)
    /// Longest silence within a request body while Berth wants more of it (nginx
    /// `client_body_timeout`): 408 (or a plain close once a response started).
    public var bodyIdleTimeout: Duration = .seconds(60)
    /// Longest idle time between two requests on a connection (nginx `keepalive_timeout`,
    /// Go `IdleTimeout`).
    public var keepaliveTimeout: Duration = .seconds(75)
    /// Time from a request reaching its container until the response head, and then the
    /// longest silence between two reads of the response body (nginx `proxy_read_timeout`):
    /// 504 before the head, a cut connection after it. Streams that stay open are bounded by
    /// this idle time, not by their length.
    public var responseTimeout: Duration = .seconds(60)
    /// Longest time a client may take none of a response while Berth has more to send
    /// (nginx `send_timeout`): the connection closes.
    public var sendTimeout: Duration = .seconds(60)
    /// Largest request head (request line and header fields): 431 beyond.
    public var maxHeaderBytes: Int = 32 * 1024
    /// Open client connections per listener; one more is answered 503 and closed at once,
    /// without touching the others.
    public var maxConnections: Int = 4096
    /// An object that holds nothing (no container, no request, no pending work) is
    /// forgotten after this long.
    public var objectIdleForget: Duration = .seconds(600)
    /// Objects kept per container class; beyond, the least recently used of those holding
    /// nothing are forgotten.
    public var maxObjects: Int = 100_000

    public init() {}

    /// The keys of `berth.limits`, with their defaults as a person writes them.
    public static let documented: [(key: String, value: String)] = {
        let d = LimitSettings()
        return [
            ("header_timeout", DurationText.format(d.headerTimeout)),
            ("body_idle_timeout", DurationText.format(d.bodyIdleTimeout)),
            ("keepalive_timeout", DurationText.format(d.keepaliveTimeout)),
            ("response_timeout", DurationText.format(d.responseTimeout)),
            ("send_timeout", DurationText.format(d.sendTimeout)),
            ("max_header_bytes", String(d.maxHeaderBytes)),
            ("max_connections", String(d.maxConnections)),
            ("object_idle_forget", DurationText.format(d.objectIdleForget)),
            ("max_objects", String(d.maxObjects)),
        ]
    }()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case headerTimeout = "header_timeout"
        case bodyIdleTimeout = "body_idle_timeout"
        case keepaliveTimeout = "keepalive_timeout"
        case responseTimeout = "response_timeout"
        case sendTimeout = "send_timeout"
        case maxHeaderBytes = "max_header_bytes"
        case maxConnections = "max_connections"
        case objectIdleForget = "object_idle_forget"
        case maxObjects = "max_objects"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(DurationText.format(headerTimeout), forKey: .headerTimeout)
        try c.encode(DurationText.format(bodyIdleTimeout), forKey: .bodyIdleTimeout)
        try c.encode(DurationText.format(keepaliveTimeout), forKey: .keepaliveTimeout)
        try c.encode(DurationText.format(responseTimeout), forKey: .responseTimeout)
        try c.encode(DurationText.format(sendTimeout), forKey: .sendTimeout)
        try c.encode(maxHeaderBytes, forKey: .maxHeaderBytes)
        try c.encode(maxConnections, forKey: .maxConnections)
        try c.encode(DurationText.format(objectIdleForget), forKey: .objectIdleForget)
        try c.encode(maxObjects, forKey: .maxObjects)
    }

    /// Missing keys keep their defaults: a deployment saved before a key existed still loads.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func duration(_ key: CodingKeys, _ fallback: Duration) throws -> Duration {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return fallback }
            guard let value = DurationText.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a duration: \(text)")
            }
            return value
        }
        let d = LimitSettings()
        headerTimeout = try duration(.headerTimeout, d.headerTimeout)
        bodyIdleTimeout = try duration(.bodyIdleTimeout, d.bodyIdleTimeout)
        keepaliveTimeout = try duration(.keepaliveTimeout, d.keepaliveTimeout)
        responseTimeout = try duration(.responseTimeout, d.responseTimeout)
        sendTimeout = try duration(.sendTimeout, d.sendTimeout)
        maxHeaderBytes = try c.decodeIfPresent(Int.self, forKey: .maxHeaderBytes) ?? d.maxHeaderBytes
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
        objectIdleForget = try duration(.objectIdleForget, d.objectIdleForget)
        maxObjects = try c.decodeIfPresent(Int.self, forKey: .maxObjects) ?? d.maxObjects
    }
}
