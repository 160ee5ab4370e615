/// What to create: the engine's container configuration in Berth's terms.
public struct ContainerSpec: Sendable {
    public var image: String
    /// The container's name; the engine picks one when nil.
    public var name: String?
    public var environment: [String: String] = [:]
    /// Replaces the image's ENTRYPOINT when set.
    public var entrypoint: [String]?
    /// Replaces the image's CMD when set.
    public var command: [String]?
    public var labels: [String: String] = [:]
    /// Container ports (TCP) to publish, each on an ephemeral host port of ``publishAddress``.
    public var publishedPorts: [Int] = []
    /// Host address published ports bind to; loopback by default, so nothing is exposed.
    public var publishAddress: String = "127.0.0.1"
    /// Memory limit in bytes.
    public var memoryBytes: Int64?
    /// CPU limit in billionths of a CPU (1 vCPU = 1_000_000_000).
    public var nanoCPUs: Int64?
    /// Relative CPU weight (default 1024).
    public var cpuShares: Int?
    /// Network to attach to (`bridge`, `none`, or a network's name).
    public var network: String?
    public var workingDirectory: String?
    public var user: String?
    /// Signal the engine sends on stop (default: the image's, else SIGTERM).
    public var stopSignal: String?
    /// Seconds the engine waits after the stop signal before SIGKILL, for `stop` without a timeout.
    public var stopTimeout: Int?
    /// Remove the container as soon as it exits.
    public var autoRemove = false
    /// Processes (and threads) the container may hold at once; nil: the engine's default.
    public var pidsLimit: Int?
    /// Capabilities removed from the engine's default set (`ALL` for every one).
    public var capDrop: [String] = []
    /// Capabilities granted on top of what remains (`NET_BIND_SERVICE`).
    public var capAdd: [String] = []
    /// Security options (`no-new-privileges`).
    public var securityOptions: [String] = []
    /// Mount the image's root filesystem read-only.
    public var readOnlyRootfs = false
    /// tmpfs mounts: path → mount options (`rw,nosuid,nodev,size=64m`).
    public var tmpfs: [String: String] = [:]
    /// The log driver and its options (`json-file`, `max-size`, `max-file`); nil: the engine's default.
    public var logDriver: String?
    public var logOptions: [String: String] = [:]

    public init(image: String) {
        self.image = image
    }
}

extension ContainerSpec: Encodable {
    struct PortBinding: Encodable {
        var HostIp: String
        var HostPort: String
    }

    struct HostConfig: Encodable {
        var PortBindings: [String: [PortBinding]]
        var Memory: Int64?
        var NanoCpus: Int64?
        var CpuShares: Int?
        var NetworkMode: String?
        var AutoRemove: Bool
        var PidsLimit: Int?
        var CapDrop: [String]?
        var CapAdd: [String]?
        var SecurityOpt: [String]?
        var ReadonlyRootfs: Bool
        var Tmpfs: [String: String]?
        var LogConfig: LogConfig?
    }

    struct LogConfig: Encodable {
        var `Type`: String
        var Config: [String: String]
    }

    struct Empty: Encodable {}

    enum CodingKeys: String, CodingKey {
        case Image, Env, Entrypoint, Cmd, Labels, ExposedPorts, HostConfig, WorkingDir, User, StopSignal, StopTimeout, Tty
        case AttachStdin, OpenStdin
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(image, forKey: .Image)
        try c.encode(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }, forKey: .Env)
        try c.encodeIfPresent(entrypoint, forKey: .Entrypoint)
        try c.encodeIfPresent(command, forKey: .Cmd)
        try c.encode(labels, forKey: .Labels)
        try c.encode(false, forKey: .Tty)
        try c.encode(false, forKey: .AttachStdin)
        try c.encode(false, forKey: .OpenStdin)
        var exposed: [String: Empty] = [:]
        var bindings: [String: [PortBinding]] = [:]
        for port in publishedPorts {
            exposed["\(port)/tcp"] = Empty()
            bindings["\(port)/tcp"] = [PortBinding(HostIp: publishAddress, HostPort: "")]
        }
        try c.encode(exposed, forKey: .ExposedPorts)
        try c.encodeIfPresent(workingDirectory, forKey: .WorkingDir)
        try c.encodeIfPresent(user, forKey: .User)
        try c.encodeIfPresent(stopSignal, forKey: .StopSignal)
        try c.encodeIfPresent(stopTimeout, forKey: .StopTimeout)
        try c.encode(
            HostConfig(
                PortBindings: bindings, Memory: memoryBytes, NanoCpus: nanoCPUs, CpuShares: cpuShares,
                NetworkMode: network, AutoRemove: autoRemove, PidsLimit: pidsLimit,
                CapDrop: capDrop.isEmpty ? nil : capDrop, CapAdd: capAdd.isEmpty ? nil : capAdd,
                SecurityOpt: securityOptions.isEmpty ? nil : securityOptions, ReadonlyRootfs: readOnlyRootfs,
                Tmpfs: tmpfs.isEmpty ? nil : tmpfs,
                LogConfig: logDriver.map { LogConfig(Type: $0, Config: logOptions) }
            ),
            forKey: .HostConfig
        )
    }
}

/// A container as `inspect` describes it.
public struct ContainerDetails: Decodable, Sendable {
    public var id: String
    /// The name without the engine's leading slash.
    public var name: String
    public var created: String
    /// The id of the image the container runs.
    public var imageID: String
    public var state: ContainerState
    public var config: Config
    public var ports: [String: [PortBinding]]
    /// The container's address on each network it is attached to, by network name.
    public var networkAddresses: [String: String]
    public var hostConfig: HostConfig
    /// The file the `json-file` driver writes the output to (rotated ones beside it, `.1`…).
    public var logPath: String

    /// The resource limits and network the container was created with.
    public struct HostConfig: Decodable, Sendable {
        public var memoryBytes: Int64
        public var nanoCPUs: Int64
        public var cpuShares: Int
        public var networkMode: String
        /// 0 when the engine's default applies.
        public var pidsLimit: Int
        public var capDrop: [String]
        public var capAdd: [String]
        public var securityOptions: [String]
        public var readOnlyRootfs: Bool
        public var tmpfs: [String: String]
        /// The log driver (`json-file`) and its options (`max-size`, `max-file`).
        public var logDriver: String
        public var logOptions: [String: String]

        struct LogConfig: Decodable {
            var `Type`: String?
            var Config: [String: String]?
        }

        enum CodingKeys: String, CodingKey {
            case memoryBytes = "Memory", nanoCPUs = "NanoCpus", cpuShares = "CpuShares", networkMode = "NetworkMode"
            case pidsLimit = "PidsLimit", capDrop = "CapDrop", capAdd = "CapAdd", securityOptions = "SecurityOpt"
            case readOnlyRootfs = "ReadonlyRootfs", tmpfs = "Tmpfs", logConfig = "LogConfig"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            memoryBytes = try c.decodeIfPresent(Int64.self, forKey: .memoryBytes) ?? 0
            nanoCPUs = try c.decodeIfPresent(Int64.self, forKey: .nanoCPUs) ?? 0
            cpuShares = try c.decodeIfPresent(Int.self, forKey: .cpuShares) ?? 0
            networkMode = try c.decodeIfPresent(String.self, forKey: .networkMode) ?? ""
            pidsLimit = try c.decodeIfPresent(Int.self, forKey: .pidsLimit) ?? 0
            capDrop = try c.decodeIfPresent([String].self, forKey: .capDrop) ?? []
            capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? []
            securityOptions = try c.decodeIfPresent([String].self, forKey: .securityOptions) ?? []
            readOnlyRootfs = try c.decodeIfPresent(Bool.self, forKey: .readOnlyRootfs) ?? false
            tmpfs = try c.decodeIfPresent([String: String].self, forKey: .tmpfs) ?? [:]
            let log = try c.decodeIfPresent(LogConfig.self, forKey: .logConfig)
            logDriver = log?.Type ?? ""
            logOptions = log?.Config ?? [:]
        }
    }

    public struct Config: Decodable, Sendable {
        public var image: String
        public var environment: [String]
        public var labels: [String: String]
        public var tty: Bool
        public var entrypoint: [String]?
        public var command: [String]?
        /// Every TCP port the container exposes, published or not.
        public var exposedTCPPorts: [Int]

        struct Empty: Decodable {}

        enum CodingKeys: String, CodingKey {
            case image = "Image", environment = "Env", labels = "Labels", tty = "Tty", entrypoint = "Entrypoint", command = "Cmd"
            case exposedPorts = "ExposedPorts"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            image = try c.decode(String.self, forKey: .image)
            environment = try c.decodeIfPresent([String].self, forKey: .environment) ?? []
            labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
            tty = try c.decodeIfPresent(Bool.self, forKey: .tty) ?? false
            entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint)
            command = try c.decodeIfPresent([String].self, forKey: .command)
            let exposed = try c.decodeIfPresent([String: Empty].self, forKey: .exposedPorts) ?? [:]
            exposedTCPPorts = exposed.keys.compactMap { $0.hasSuffix("/tcp") ? Int($0.dropLast(4)) : nil }.sorted()
        }
    }

    public struct PortBinding: Decodable, Sendable, Equatable {
        public var hostIP: String
        public var hostPort: String
        enum CodingKeys: String, CodingKey { case hostIP = "HostIp", hostPort = "HostPort" }
    }

    struct NetworkSettings: Decodable {
        var Ports: [String: [PortBinding]?]?
        var Networks: [String: Attachment]?

        struct Attachment: Decodable {
            var IPAddress: String?
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id", name = "Name", created = "Created", imageID = "Image", state = "State", config = "Config"
        case networkSettings = "NetworkSettings", hostConfig = "HostConfig", logPath = "LogPath"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        let rawName = try c.decode(String.self, forKey: .name)
        name = rawName.hasPrefix("/") ? String(rawName.dropFirst()) : rawName
        created = try c.decode(String.self, forKey: .created)
        imageID = try c.decode(String.self, forKey: .imageID)
        state = try c.decode(ContainerState.self, forKey: .state)
        config = try c.decode(Config.self, forKey: .config)
        let settings = try c.decodeIfPresent(NetworkSettings.self, forKey: .networkSettings)
        ports = (settings?.Ports ?? [:]).compactMapValues { $0 }
        networkAddresses = (settings?.Networks ?? [:]).compactMapValues { $0.IPAddress.flatMap { $0.isEmpty ? nil : $0 } }
        hostConfig = try c.decode(HostConfig.self, forKey: .hostConfig)
        logPath = try c.decodeIfPresent(String.self, forKey: .logPath) ?? ""
    }

    /// The host port that `containerPort` (TCP) is published on, once the container runs.
    public func hostPort(for containerPort: Int) -> Int? {
        ports["\(containerPort)/tcp"]?.lazy.compactMap { Int($0.hostPort) }.first
    }

    /// The value of an environment variable as the container sees it.
    public func environmentValue(_ name: String) -> String? {
        config.environment.first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }
}

/// The run state of a container.
public struct ContainerState: Decodable, Sendable {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    public var status: String
    public var running: Bool
    public var exitCode: Int
    public var oomKilled: Bool
    public var error: String
    public var startedAt: String
    public var finishedAt: String
    public var pid: Int

    enum CodingKeys: String, CodingKey {
        case status = "Status", running = "Running", exitCode = "ExitCode", oomKilled = "OOMKilled"
        case error = "Error", startedAt = "StartedAt", finishedAt = "FinishedAt", pid = "Pid"
    }
}

/// A container as `list` describes it.
public struct ContainerSummary: Decodable, Sendable {
    public var id: String
    public var names: [String]
    public var image: String
    public var imageID: String
    public var created: Int64
    public var state: String
    public var status: String
    public var labels: [String: String]

    enum CodingKeys: String, CodingKey {
        case id = "Id", names = "Names", image = "Image", imageID = "ImageID", created = "Created"
        case state = "State", status = "Status", labels = "Labels"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        names = (try c.decodeIfPresent([String].self, forKey: .names) ?? []).map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }
        image = try c.decode(String.self, forKey: .image)
        imageID = try c.decodeIfPresent(String.self, forKey: .imageID) ?? ""
        created = try c.decode(Int64.self, forKey: .created)
        state = try c.decode(String.self, forKey: .state)
        status = try c.decode(String.self, forKey: .status)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }
}

/// Which state change `wait` waits for.
public enum WaitCondition: String, Sendable {
    /// Returns at once if the container is not running.
    case notRunning = "not-running"
    /// Waits for the next exit, even if the container is not running yet.
    case nextExit = "next-exit"
    /// Waits until the container is removed.
    case removed
}
