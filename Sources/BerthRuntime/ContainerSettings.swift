import BerthConfig
import BerthCore

/// How the objects of one container class run their containers: the Container class's
/// properties (reference §2) plus the limits Berth applies.
public struct ContainerSettings: Sendable {
    public var app: String
    public var className: String
    /// The container's configured name (`containers[].name`).
    public var containerName: String
    /// The image to run (reference or id).
    public var image: String
    /// Port used by `fetch` when no target port is given.
    public var defaultPort: Int?
    /// Ports that must all answer before the container is healthy (default: `defaultPort`).
    public var requiredPorts: [Int]
    /// Ports the image EXPOSEs; published too, so `switchPort` can reach them.
    public var exposedPorts: [Int] = []
    /// Idle time after the last request before the container is stopped.
    public var sleepAfter: Duration = .seconds(600)
    public var envVars: [String: String] = [:]
    /// The project's secrets (`berth secret put`), in the environment beside `envVars`; no name is
    /// in both (a deployment or a put that would make one is refused).
    public var secrets: [String: String] = [:]
    /// Changes whenever a secret does: the fingerprint sees this, never a value.
    public var secretsVersion = ""
    public var entrypoint: [String]?
    public var enableInternet = true
    public var labels: [String: String] = [:]
    /// `host[/path]` of the readiness request; any HTTP answer counts.
    public var pingEndpoint = "ping"
    public var instanceGetTimeout: Duration = .seconds(8)
    public var portReadyTimeout: Duration = .seconds(20)
    public var stopGracePeriod: Duration = .seconds(10)
    public var instanceType: InstanceType = .default
    /// `CLOUDFLARE_LOCATION` / `CLOUDFLARE_REGION` inside the container.
    public var location = "local"
    /// How long an object that holds nothing (no container, no request, no work in
    /// progress) stays in memory before it is forgotten (`berth.limits.object_idle_forget`).
    public var objectIdleForget: Duration = .seconds(600)
    /// Objects of the class kept in memory at most (`berth.limits.max_objects`): beyond,
    /// each new one makes the class forget the least recently used that holds nothing.
    public var maxObjects = 100_000
    /// Waits between starts that keep failing (`berth.classes.<Class>.crash_backoff`).
    public var crashBackoff = CrashBackoff()
    /// Pids limit, capabilities, `no-new-privileges`, read-only root (`berth.classes.<Class>`).
    public var isolation = ContainerIsolation()
    /// Limits of open WebSockets (`berth.websockets`).
    public var webSockets = WebSocketSettings()
    /// What keeps an object with open WebSockets awake (`berth.classes.<Class>.websocket_activity`).
    public var webSocketActivity = WebSocketActivity.open

    public init(app: String, className: String, containerName: String, image: String, defaultPort: Int? = nil, requiredPorts: [Int] = []) {
        self.app = app
        self.className = className
        self.containerName = containerName
        self.image = image
        self.defaultPort = defaultPort
        self.requiredPorts = requiredPorts
    }

    /// Settings for a configured container class, with Berth's timeouts.
    public init(app: String, container: ContainerConfig, image: String, berth: BerthSettings) {
        self.init(app: app, className: container.className, containerName: container.name, image: image)
        instanceGetTimeout = berth.instanceGetTimeout
        portReadyTimeout = berth.portReadyTimeout
        stopGracePeriod = berth.stopGracePeriod
        objectIdleForget = berth.limits.objectIdleForget
        maxObjects = berth.limits.maxObjects
        webSockets = berth.websockets
        instanceType = container.instanceType
    }

    /// The ports a start waits for.
    var portsToCheck: [Int] {
        requiredPorts.isEmpty ? (defaultPort.map { [$0] } ?? []) : requiredPorts
    }
}
