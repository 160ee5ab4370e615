import BerthCore
import Foundation

/// A container class's state as `containers list` shows it.
public enum ClassState: String, Sendable, Codable, CaseIterable {
    /// An instance failed.
    case degraded
    /// An instance is starting.
    case provisioning
    /// An instance runs.
    case active
    /// Nothing runs; the next request starts an instance.
    case ready
    /// Deleted with `containers delete`.
    case deleted
}

/// A container class as `containers list` and `info` show it.
public struct ContainerView: Sendable, Codable, Equatable {
    /// The application id (stable for an app and container name).
    public var id: String
    /// `containers[].name`.
    public var name: String
    public var className: String
    public var state: ClassState
    public var liveInstances: Int
    public var failedInstances: Int
    public var maxInstances: Int
    public var lastModified: Date
    public var image: String
    public var deploymentID: String
    public var bindings: [String]
    public var instanceType: String
    public var sleepAfter: String
    public var defaultPort: Int?
    public var disabled: String?
    /// The routes that lead to the class: `prefix → BINDING (object by …)`.
    public var routes: [String] = []
    /// Requests per second and the share of 5xx answers over the last minute.
    public var requestsPerSecond: Double = 0
    public var errorRate: Double = 0
    /// WebSockets open to its objects now.
    public var webSockets: Int?


    public init(
        id: String, name: String, className: String, state: ClassState, liveInstances: Int, failedInstances: Int,
        maxInstances: Int, lastModified: Date, image: String, deploymentID: String, bindings: [String], instanceType: String,
        sleepAfter: String, defaultPort: Int? = nil, disabled: String? = nil, routes: [String] = [],
        requestsPerSecond: Double = 0, errorRate: Double = 0
    ) {
        self.id = id
        self.name = name
        self.className = className
        self.state = state
        self.liveInstances = liveInstances
        self.failedInstances = failedInstances
        self.maxInstances = maxInstances
        self.lastModified = lastModified
        self.image = image
        self.deploymentID = deploymentID
        self.bindings = bindings
        self.instanceType = instanceType
        self.sleepAfter = sleepAfter
        self.defaultPort = defaultPort
        self.disabled = disabled
        self.routes = routes
        self.requestsPerSecond = requestsPerSecond
        self.errorRate = errorRate
    }
    enum CodingKeys: String, CodingKey {
        case id, name, state, image, bindings, routes
        case requestsPerSecond = "rps", errorRate = "error_rate", webSockets = "websockets"
        case className = "class_name", liveInstances = "live_instances", failedInstances = "failed_instances"
        case maxInstances = "max_instances", lastModified = "last_modified", deploymentID = "deployment_id"
        case instanceType = "instance_type", sleepAfter = "sleep_after", defaultPort = "default_port", disabled
    }
}

/// An instance as `containers instances` shows it.
public struct InstanceView: Sendable, Codable, Equatable {
    /// The instance id (`CLOUDFLARE_DEPLOYMENT_ID` inside the container), or `-` for an
    /// object whose start failed.
    public var instance: String
    /// The object's name when known, else its id.
    public var name: String
    public var state: String
    public var location: String
    /// The deployment it runs.
    public var version: String
    public var created: Date?
    public var objectID: String
    public var containerID: String?
    public var className: String
    public var failure: String?
    /// CPU (percent of one core) and memory, from the engine, when asked for.
    public var cpuPercent: Double?
    public var memoryBytes: UInt64?
    public var memoryLimitBytes: UInt64?
    /// WebSockets open to it now.
    public var webSockets: Int?


    public init(
        instance: String, name: String, state: String, location: String, version: String, created: Date? = nil, objectID: String,
        containerID: String? = nil, className: String, failure: String? = nil, cpuPercent: Double? = nil,
        memoryBytes: UInt64? = nil, memoryLimitBytes: UInt64? = nil, webSockets: Int? = nil
    ) {
        self.webSockets = webSockets
        self.instance = instance
        self.name = name
        self.state = state
        self.location = location
        self.version = version
        self.created = created
        self.objectID = objectID
        self.containerID = containerID
        self.className = className
        self.failure = failure
        self.cpuPercent = cpuPercent
        self.memoryBytes = memoryBytes
        self.memoryLimitBytes = memoryLimitBytes
    }
    enum CodingKeys: String, CodingKey {
        case instance, name, state, location, version, created, failure
        case cpuPercent = "cpu_percent", memoryBytes = "memory_bytes", memoryLimitBytes = "memory_limit_bytes"
        case objectID = "object_id", containerID = "container_id", className = "class_name"
        case webSockets = "websockets"
    }
}

/// A deployment as `deployments list` shows it.
public struct DeploymentView: Sendable, Codable, Equatable {
    public var id: String
    public var createdAt: Date
    public var app: String
    public var source: String
    public var rollout: RolloutMode
    public var rollbackOf: String?
    public var current: Bool
    /// Image reference by container name.
    public var images: [String: String]
    public var progress: RolloutProgress


    public init(
        id: String, createdAt: Date, app: String, source: String, rollout: RolloutMode, rollbackOf: String? = nil, current: Bool,
        images: [String: String], progress: RolloutProgress
    ) {
        self.id = id
        self.createdAt = createdAt
        self.app = app
        self.source = source
        self.rollout = rollout
        self.rollbackOf = rollbackOf
        self.current = current
        self.images = images
        self.progress = progress
    }
    enum CodingKeys: String, CodingKey {
        case id, app, source, rollout, current, images, progress
        case createdAt = "created_at", rollbackOf = "rollback_of"
    }
}
