import BerthCore

/// A project's configuration after loading and validation, with every default filled in.
public struct ProjectConfig: Sendable, Codable, Equatable {
    /// The configuration file as the user named it.
    public var file: String
    /// The absolute path of the project folder (the folder holding the file).
    public var folder: String
    /// The Worker's name: `name` in the file, else the folder's name.
    public var name: String
    public var main: String?
    public var compatibilityDate: String?
    /// Plain-text variables of the Worker (`vars`); non-string values are kept as JSON text.
    public var vars: [String: String]
    public var durableObjects: [DurableObjectBinding]
    public var containers: [ContainerConfig]
    /// Settings that only Berth reads, from the `"berth"` key.
    public var berth: BerthSettings
    /// Classes a migration deleted (`deleted_classes`, not made again by a later one): a
    /// deployment removes their objects' storage and alarms, as on Cloudflare.
    public var deletedClasses: [String]?

    public init(
        file: String, folder: String, name: String, main: String?, compatibilityDate: String?, vars: [String: String],
        durableObjects: [DurableObjectBinding], containers: [ContainerConfig], berth: BerthSettings, deletedClasses: [String]? = nil
    ) {
        self.file = file
        self.folder = folder
        self.name = name
        self.main = main
        self.compatibilityDate = compatibilityDate
        self.vars = vars
        self.durableObjects = durableObjects
        self.containers = containers
        self.berth = berth
        self.deletedClasses = deletedClasses
    }

    enum CodingKeys: String, CodingKey {
        case file, folder, name, main, vars, containers, berth
        case compatibilityDate = "compatibility_date"
        case durableObjects = "durable_objects"
        case deletedClasses = "deleted_classes"
    }
}

/// A Durable Object namespace bound in the Worker's `env`.
public struct DurableObjectBinding: Sendable, Codable, Equatable {
    /// How the class stores its data, from the migrations.
    public enum Storage: String, Sendable, Codable {
        case sqlite
        case keyValue = "key_value"
        case undeclared
    }

    /// The name in `env`, e.g. `MY_CONTAINER`.
    public var name: String
    public var className: String
    /// Set when the class lives in another Worker.
    public var scriptName: String?
    public var storage: Storage

    public init(name: String, className: String, scriptName: String? = nil, storage: Storage) {
        self.name = name
        self.className = className
        self.scriptName = scriptName
        self.storage = storage
    }

    enum CodingKeys: String, CodingKey {
        case name, storage
        case className = "class_name"
        case scriptName = "script_name"
    }
}

/// One entry of `containers[]`.
public struct ContainerConfig: Sendable, Codable, Equatable {
    public var name: String
    public var className: String
    /// The `env` bindings that lead to this class.
    public var bindings: [String]
    public var image: ContainerImage
    /// Build arguments (`image_vars`).
    public var imageVars: [String: String]
    public var maxInstances: Int
    public var instanceType: InstanceType
    public var rolloutStepPercentage: [Int]
    /// Seconds an instance keeps serving during a rollout before it is stopped.
    public var rolloutActiveGracePeriod: Int

    enum CodingKeys: String, CodingKey {
        case name, bindings, image
        case className = "class_name"
        case imageVars = "image_vars"
        case maxInstances = "max_instances"
        case instanceType = "instance_type"
        case rolloutStepPercentage = "rollout_step_percentage"
        case rolloutActiveGracePeriod = "rollout_active_grace_period"
    }
}

/// Where a container's image comes from.
public enum ContainerImage: Sendable, Codable, Equatable {
    /// Built from a Dockerfile; both paths are absolute.
    case dockerfile(path: String, context: String)
    /// An image reference used as it is (`registry/repo:tag`).
    case reference(String)

    enum CodingKeys: String, CodingKey { case kind, dockerfile, context, reference }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .dockerfile(let path, let context):
            try c.encode("dockerfile", forKey: .kind)
            try c.encode(path, forKey: .dockerfile)
            try c.encode(context, forKey: .context)
        case .reference(let reference):
            try c.encode("reference", forKey: .kind)
            try c.encode(reference, forKey: .reference)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "dockerfile":
            self = .dockerfile(path: try c.decode(String.self, forKey: .dockerfile), context: try c.decode(String.self, forKey: .context))
        default:
            self = .reference(try c.decode(String.self, forKey: .reference))
        }
    }
}

/// The resources of one container instance.
public struct InstanceType: Sendable, Codable, Equatable {
    /// The preset's name, or `custom`.
    public var name: String
    public var vcpu: Double
    public var memoryMiB: Int
    public var diskMB: Int

    public init(name: String, vcpu: Double, memoryMiB: Int, diskMB: Int) {
        self.name = name
        self.vcpu = vcpu
        self.memoryMiB = memoryMiB
        self.diskMB = diskMB
    }

    enum CodingKeys: String, CodingKey {
        case name, vcpu
        case memoryMiB = "memory_mib"
        case diskMB = "disk_mb"
    }

    /// The presets Cloudflare offers, smallest first.
    public static let presets: [InstanceType] = [
        InstanceType(name: "lite", vcpu: 1.0 / 16, memoryMiB: 256, diskMB: 2000),
        InstanceType(name: "basic", vcpu: 1.0 / 4, memoryMiB: 1024, diskMB: 4000),
        InstanceType(name: "standard-1", vcpu: 1.0 / 2, memoryMiB: 4096, diskMB: 8000),
        InstanceType(name: "standard-2", vcpu: 1, memoryMiB: 6144, diskMB: 12000),
        InstanceType(name: "standard-3", vcpu: 2, memoryMiB: 8192, diskMB: 16000),
        InstanceType(name: "standard-4", vcpu: 4, memoryMiB: 12288, diskMB: 20000),
    ]

    /// Older names wrangler still accepts, and what they mean today.
    public static let legacyAliases: [String: String] = ["dev": "lite", "standard": "standard-1"]

    public static let `default` = presets[0]
}

/// Settings under the `"berth"` key; Cloudflare ignores them.
public struct BerthSettings: Sendable, Codable, Equatable {
    /// Gateway port (`berth dev`/`serve` default).
    public var port: Int = 8787
    /// Gateway address.
    public var ip: String = "127.0.0.1"
    /// Admin API and dashboard port.
    public var adminPort: Int = 8788
    /// Admin API and dashboard address; loopback unless told otherwise.
    public var adminIP: String = "127.0.0.1"
    /// Where Berth keeps its state, relative to the project folder.
    public var stateDir: String = ".berth"
    /// How long a request may wait for an instance to be created and started.
    public var instanceGetTimeout: Duration = .seconds(8)
    /// How long a request may wait for the container's ports to answer.
    public var portReadyTimeout: Duration = .seconds(20)
    /// Time between SIGTERM and SIGKILL when an instance stops.
    public var stopGracePeriod: Duration = .seconds(10)
    /// Container starts (create + start on the engine) in progress at once, for the whole
    /// server; more wait their turn in arrival order.
    public var maxConcurrentStarts: Int = 4
    /// Container class properties by class name, for projects without Swift code.
    public var classes: [String: ClassSettings] = [:]
    /// Zero-code routes; empty means the template's routes when there is one container class.
    public var routes: [RouteConfig] = []
    /// Timeouts and sizes that bound what clients can cost (`berth.limits`).
    public var limits = LimitSettings()
    /// How many past deployments and their images are kept (`berth.retention`).
    public var retention = RetentionSettings()
    /// The listeners' certificates (`berth.tls`); none means plain HTTP.
    public var tls = TLSSettings()
    /// Limits of open WebSockets (`berth.websockets`).
    public var websockets = WebSocketSettings()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case port, ip
        case adminPort = "admin_port"
        case adminIP = "admin_ip"
        case stateDir = "state_dir"
        case instanceGetTimeout = "instance_get_timeout"
        case portReadyTimeout = "port_ready_timeout"
        case stopGracePeriod = "stop_grace_period"
        case maxConcurrentStarts = "max_concurrent_starts"
        case classes, routes, limits
        case retention
        case tls
        case websockets
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(port, forKey: .port)
        try c.encode(ip, forKey: .ip)
        try c.encode(adminPort, forKey: .adminPort)
        try c.encode(adminIP, forKey: .adminIP)
        try c.encode(stateDir, forKey: .stateDir)
        try c.encode(DurationText.format(instanceGetTimeout), forKey: .instanceGetTimeout)
        try c.encode(DurationText.format(portReadyTimeout), forKey: .portReadyTimeout)
        try c.encode(DurationText.format(stopGracePeriod), forKey: .stopGracePeriod)
        try c.encode(maxConcurrentStarts, forKey: .maxConcurrentStarts)
        try c.encode(classes, forKey: .classes)
        try c.encode(routes, forKey: .routes)
        try c.encode(limits, forKey: .limits)
        try c.encode(retention, forKey: .retention)
        try c.encode(tls, forKey: .tls)
        try c.encode(websockets, forKey: .websockets)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func duration(_ key: CodingKeys) throws -> Duration {
            let text = try c.decode(String.self, forKey: key)
            guard let value = DurationText.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a duration: \(text)")
            }
            return value
        }
        port = try c.decode(Int.self, forKey: .port)
        ip = try c.decode(String.self, forKey: .ip)
        adminPort = try c.decode(Int.self, forKey: .adminPort)
        adminIP = try c.decode(String.self, forKey: .adminIP)
        stateDir = try c.decode(String.self, forKey: .stateDir)
        instanceGetTimeout = try duration(.instanceGetTimeout)
        portReadyTimeout = try duration(.portReadyTimeout)
        stopGracePeriod = try duration(.stopGracePeriod)
        maxConcurrentStarts = try c.decodeIfPresent(Int.self, forKey: .maxConcurrentStarts) ?? BerthSettings().maxConcurrentStarts
        classes = try c.decodeIfPresent([String: ClassSettings].self, forKey: .classes) ?? [:]
        routes = try c.decodeIfPresent([RouteConfig].self, forKey: .routes) ?? []
        limits = try c.decodeIfPresent(LimitSettings.self, forKey: .limits) ?? LimitSettings()
        retention = try c.decodeIfPresent(RetentionSettings.self, forKey: .retention) ?? RetentionSettings()
        tls = try c.decodeIfPresent(TLSSettings.self, forKey: .tls) ?? TLSSettings()
        websockets = try c.decodeIfPresent(WebSocketSettings.self, forKey: .websockets) ?? WebSocketSettings()
    }
}
