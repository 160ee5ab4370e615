import BerthCore
import Foundation

/// What happened to an object's instance.
public enum InstanceEvent: Sendable, Equatable {
    /// A start began (the container is being created).
    case starting
    /// Its ports answer; `coldStart` is the time from the start's beginning.
    case healthy(coldStart: Duration)
    /// A running container was found on the engine after a restart and serves again.
    case adopted
    /// The container is gone.
    case stopped(exitCode: Int, reason: StopReason)
    /// The start failed.
    case failed(message: String)

    /// A short word for logs, tables and the state store.
    public var kind: String {
        switch self {
        case .starting: "starting"
        case .healthy: "healthy"
        case .adopted: "adopted"
        case .stopped: "stopped"
        case .failed: "failed"
        }
    }
}

/// Which instance an ``InstanceEvent`` is about.
public struct InstanceRecord: Sendable, Equatable {
    public var className: String
    public var objectID: String
    public var objectName: String?
    public var instanceID: String
    public var containerID: String?
    public var deploymentID: String
    public var at: Date
}

/// Told of every instance event, on the actor that caused it: keep it quick (hand the event
/// to a queue). The state store and, later, metrics listen here.
public protocol InstanceObserver: Sendable {
    func instance(_ record: InstanceRecord, _ event: InstanceEvent)
}

/// An object's state and its instance, as the admin API shows it.
public struct ObjectSnapshot: Sendable, Codable, Equatable {
    public var className: String
    public var objectID: String
    public var objectName: String?
    /// `getState()`'s name: stopped, running, healthy, stopping, stopped_with_code.
    public var state: String
    public var exitCode: Int?
    public var instanceID: String?
    public var containerID: String?
    /// The deployment the instance was started from (its version).
    public var deploymentID: String?
    public var createdAt: Date?
    public var inFlight: Int
    /// WebSockets open to its container.
    public var webSockets = 0
    /// Why its last start failed or its container crashed, until it next becomes healthy.
    public var failure: String?
    public var failedAt: Date?

    /// A container exists for it (starting, serving or stopping).
    public var isLive: Bool { instanceID != nil }
    /// Its last start failed or its container exited with an error.
    public var isFailed: Bool { failure != nil && !isLive }

    enum CodingKeys: String, CodingKey {
        case className = "class_name", objectID = "object_id", objectName = "object_name", state, exitCode = "exit_code"
        case instanceID = "instance_id", containerID = "container_id", deploymentID = "deployment_id", createdAt = "created_at"
        case inFlight = "in_flight", failure, failedAt = "failed_at"
        case webSockets = "websockets"
    }

    public init(
        className: String, objectID: String, objectName: String?, state: String, exitCode: Int?, instanceID: String?, containerID: String?,
        deploymentID: String?, createdAt: Date?, inFlight: Int, webSockets: Int = 0, failure: String?, failedAt: Date?
    ) {
        self.className = className
        self.objectID = objectID
        self.objectName = objectName
        self.state = state
        self.exitCode = exitCode
        self.instanceID = instanceID
        self.containerID = containerID
        self.deploymentID = deploymentID
        self.createdAt = createdAt
        self.inFlight = inFlight
        self.webSockets = webSockets
        self.failure = failure
        self.failedAt = failedAt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        className = try c.decode(String.self, forKey: .className)
        objectID = try c.decode(String.self, forKey: .objectID)
        objectName = try c.decodeIfPresent(String.self, forKey: .objectName)
        state = try c.decode(String.self, forKey: .state)
        exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode)
        instanceID = try c.decodeIfPresent(String.self, forKey: .instanceID)
        containerID = try c.decodeIfPresent(String.self, forKey: .containerID)
        deploymentID = try c.decodeIfPresent(String.self, forKey: .deploymentID)
        createdAt = try c.decodeIfPresent(Date.self, forKey: .createdAt)
        inFlight = try c.decode(Int.self, forKey: .inFlight)
        webSockets = try c.decodeIfPresent(Int.self, forKey: .webSockets) ?? 0
        failure = try c.decodeIfPresent(String.self, forKey: .failure)
        failedAt = try c.decodeIfPresent(Date.self, forKey: .failedAt)
    }
}

/// A running container found on the engine, to be served again by its object.
public struct AdoptedInstance: Sendable {
    public var instanceID: String
    public var deploymentID: String
    /// The fingerprint it was started with, from its label.
    public var fingerprint: String?
    public var created: Date
    public var instance: RunningInstance

    public init(instanceID: String, deploymentID: String, fingerprint: String?, created: Date, instance: RunningInstance) {
        self.instanceID = instanceID
        self.deploymentID = deploymentID
        self.fingerprint = fingerprint
        self.created = created
        self.instance = instance
    }
}
