import BerthCore

/// The engine's `/version` answer.
public struct EngineVersion: Decodable, Sendable {
    public var version: String
    public var apiVersion: String
    public var minAPIVersion: String?
    public var os: String
    public var arch: String
    public var kernelVersion: String?

    enum CodingKeys: String, CodingKey {
        case version = "Version", apiVersion = "ApiVersion", minAPIVersion = "MinAPIVersion"
        case os = "Os", arch = "Arch", kernelVersion = "KernelVersion"
    }
}

/// The parts of the engine's `/info` answer Berth uses.
public struct EngineInfo: Decodable, Sendable {
    public var id: String
    public var name: String
    public var serverVersion: String
    public var containers: Int
    public var containersRunning: Int
    public var images: Int
    public var storageDriver: String
    public var operatingSystem: String
    public var cpus: Int
    public var memoryBytes: Int64
    public var cgroupVersion: String?

    enum CodingKeys: String, CodingKey {
        case id = "ID", name = "Name", serverVersion = "ServerVersion", containers = "Containers"
        case containersRunning = "ContainersRunning", images = "Images", storageDriver = "Driver"
        case operatingSystem = "OperatingSystem", cpus = "NCPU", memoryBytes = "MemTotal", cgroupVersion = "CgroupVersion"
    }
}

extension DockerClient {
    /// Checks that the engine answers (`GET /_ping`).
    public func ping() async throws(BerthError) {
        try await sendDiscardingBody(Request(path: "/_ping", timeout: .seconds(10), operation: "ping the engine", versioned: false))
    }

    /// The engine's version and API range; needs no negotiated version.
    public func version() async throws(BerthError) -> EngineVersion {
        try await sendJSON(Request(path: "/version", timeout: .seconds(10), operation: "read the engine version", versioned: false))
    }

    /// System-wide information about the engine.
    public func info() async throws(BerthError) -> EngineInfo {
        try await sendJSON(Request(path: "/info", timeout: .seconds(30), operation: "read engine info"))
    }
}
