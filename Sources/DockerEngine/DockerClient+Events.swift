import BerthCore
import Foundation

/// Something that happened in the engine: a container started, died, was removed…
public struct EngineEvent: Decodable, Sendable {
    /// `container`, `image`, `network`, `volume`…
    public var type: String
    /// `create`, `start`, `die`, `kill`, `stop`, `destroy`, `health_status: healthy`…
    public var action: String
    public var actor: Actor
    /// Unix time in seconds and in nanoseconds.
    public var time: Int64
    public var timeNano: Int64

    public struct Actor: Decodable, Sendable {
        public var id: String
        /// For containers: their labels, `name`, `image`, and on `die` the `exitCode`.
        public var attributes: [String: String]

        enum CodingKeys: String, CodingKey { case id = "ID", attributes = "Attributes" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
            attributes = try c.decodeIfPresent([String: String].self, forKey: .attributes) ?? [:]
        }
    }

    enum CodingKeys: String, CodingKey {
        case type = "Type", action = "Action", actor = "Actor", time, timeNano
    }

    /// The exit code a `die` event reports.
    public var exitCode: Int? { actor.attributes["exitCode"].flatMap { Int($0) } }
}

/// Which events to receive; every non-empty list must match.
public struct EventFilters: Sendable {
    /// `key` or `key=value`.
    public var labels: [String] = []
    /// `container`, `image`, `network`…
    public var types: [String] = []
    /// `start`, `die`…
    public var actions: [String] = []
    /// Container ids or names.
    public var containers: [String] = []

    public init(labels: [String] = [], types: [String] = [], actions: [String] = [], containers: [String] = []) {
        self.labels = labels
        self.types = types
        self.actions = actions
        self.containers = containers
    }

    var json: [String: [String]] {
        var filters: [String: [String]] = [:]
        if !labels.isEmpty { filters["label"] = labels }
        if !types.isEmpty { filters["type"] = types }
        if !actions.isEmpty { filters["event"] = actions }
        if !containers.isEmpty { filters["container"] = containers }
        return filters
    }
}

extension DockerClient {
    /// Engine events as they happen, filtered by the engine. Without `until` the stream
    /// stays open; break out of the loop to close it. `since` replays past events first.
    public func events(
        _ filters: EventFilters = EventFilters(), since: Date? = nil, until: Date? = nil
    ) async throws(BerthError) -> EngineStream<EngineEvent> {
        let filterJSON = filters.json.isEmpty ? nil : try Self.json(filters.json)
        let response = try await send(Request(
            path: "/events",
            query: [
                ("filters", filterJSON),
                ("since", since.map { String(format: "%.9f", $0.timeIntervalSince1970) }),
                ("until", until.map { String(format: "%.9f", $0.timeIntervalSince1970) }),
            ],
            operation: "subscribe to engine events"
        ))
        return EngineStream(body: response.body) { JSONLinesDecoder<EngineEvent>() }
    }
}
