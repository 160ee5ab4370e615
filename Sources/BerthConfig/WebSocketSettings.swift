import BerthCore

/// `berth.websockets`: what open WebSockets may cost, for every class of the project.
public struct WebSocketSettings: Sendable, Codable, Equatable {
    /// Open WebSockets per object; one more is answered 503 (with `Retry-After`).
    public var maxPerObject = 1_000
    /// Open WebSockets per container class, over all its objects.
    public var maxPerClass = 10_000
    /// A socket on which no frame passed either way for this long is closed with 1001;
    /// nil (`"off"`, the default): sockets stay open as long as both ends keep them.
    public var idleTimeout: Duration?
    /// The largest message (the sum of its fragments) Berth forwards or delivers: 1009
    /// (message too big) beyond. Berth never holds a whole message when it only forwards.
    public var maxMessageBytes = 16 << 20

    public init() {}

    /// The keys of `berth.websockets`, with their defaults as a person writes them.
    public static let documented: [(key: String, value: String)] = {
        let d = WebSocketSettings()
        return [
            ("max_per_object", String(d.maxPerObject)),
            ("max_per_class", String(d.maxPerClass)),
            ("idle_timeout", d.idleTimeout.map(DurationText.format) ?? "off"),
            ("max_message_bytes", String(d.maxMessageBytes)),
        ]
    }()

    enum CodingKeys: String, CodingKey {
        case maxPerObject = "max_per_object"
        case maxPerClass = "max_per_class"
        case idleTimeout = "idle_timeout"
        case maxMessageBytes = "max_message_bytes"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(maxPerObject, forKey: .maxPerObject)
        try c.encode(maxPerClass, forKey: .maxPerClass)
        try c.encode(idleTimeout.map(DurationText.format) ?? "off", forKey: .idleTimeout)
        try c.encode(maxMessageBytes, forKey: .maxMessageBytes)
    }

    /// Missing keys keep their defaults: a deployment saved before a key existed still loads.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = WebSocketSettings()
        maxPerObject = try c.decodeIfPresent(Int.self, forKey: .maxPerObject) ?? d.maxPerObject
        maxPerClass = try c.decodeIfPresent(Int.self, forKey: .maxPerClass) ?? d.maxPerClass
        if let text = try c.decodeIfPresent(String.self, forKey: .idleTimeout), text != "off" {
            idleTimeout = DurationText.parse(text)
        }
        maxMessageBytes = try c.decodeIfPresent(Int.self, forKey: .maxMessageBytes) ?? d.maxMessageBytes
    }
}
