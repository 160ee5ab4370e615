import BerthCore
import NIOCore

/// A network as `list` describes it.
public struct NetworkSummary: Decodable, Sendable {
    public var id: String
    public var name: String
    public var driver: String
    public var isInternal: Bool
    public var labels: [String: String]
    /// The driver's options (`com.docker.network.bridge.enable_icc`).
    public var options: [String: String]

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", driver = "Driver", isInternal = "Internal", labels = "Labels", options = "Options"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        driver = try c.decode(String.self, forKey: .driver)
        isInternal = try c.decodeIfPresent(Bool.self, forKey: .isInternal) ?? false
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        options = try c.decodeIfPresent([String: String].self, forKey: .options) ?? [:]
    }
}

extension DockerClient {
    /// Creates a bridge network; an `internal` one has no route out of the machine.
    /// `options` are the bridge driver's (`com.docker.network.bridge.enable_icc`).
    public func createNetwork(
        _ name: String, internal: Bool = false, labels: [String: String] = [:], options: [String: String] = [:]
    ) async throws(BerthError) -> String {
        struct Create: Encodable {
            var Name: String
            var Driver = "bridge"
            var Internal: Bool
            var Labels: [String: String]
            var Options: [String: String]
            var CheckDuplicate = true
        }
        struct Created: Decodable { var Id: String }
        let body = try Self.json(Create(Name: name, Internal: `internal`, Labels: labels, Options: options))
        let created: Created = try await sendJSON(Request(
            method: .POST, path: "/networks/create", headers: [("Content-Type", "application/json")],
            body: .bytes(ByteBuffer(string: body)), operation: "create network \(name)"
        ))
        return created.Id
    }

    /// Removes a network.
    public func removeNetwork(_ idOrName: String) async throws(BerthError) {
        try await sendDiscardingBody(Request(method: .DELETE, path: "/networks/\(idOrName)", operation: "remove network \(idOrName)"))
    }

    /// Lists networks, optionally only those carrying every label in `labels`.
    public func listNetworks(labels: [String] = []) async throws(BerthError) -> [NetworkSummary] {
        let filters = labels.isEmpty ? nil : try Self.json(["label": labels])
        return try await sendJSON(Request(path: "/networks", query: [("filters", filters)], operation: "list networks"))
    }
}
