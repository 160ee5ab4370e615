import Foundation

/// What `GET /api/server` answers.
public struct ServerInfo: Sendable, Codable, Equatable {
    public var serverID: String
    public var gatewayURL: String
    public var adminURL: String
    public var stateDirectory: String
    public var pid: Int32
    public var startedAt: Date
    public var app: String?
    public var deploymentID: String?
    /// Whether the container engine answers (set when served).
    public var engine: EngineHealth?

    public init(serverID: String, gatewayURL: String, adminURL: String, stateDirectory: String, pid: Int32, startedAt: Date) {
        self.serverID = serverID
        self.gatewayURL = gatewayURL
        self.adminURL = adminURL
        self.stateDirectory = stateDirectory
        self.pid = pid
        self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id", gatewayURL = "gateway_url", adminURL = "admin_url", stateDirectory = "state_directory"
        case pid, startedAt = "started_at", app, deploymentID = "deployment_id"
        case engine
    }
}

/// What `POST /api/rollback` takes.
public struct RollbackRequest: Codable, Sendable {
    public var deployment: String?
    public var rollout: RolloutMode?

    public init(deployment: String? = nil, rollout: RolloutMode? = nil) {
        self.deployment = deployment
        self.rollout = rollout
    }
}
