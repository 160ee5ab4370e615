import BerthCore

/// Container class properties for projects without Swift code, under `berth.classes.<Class>`:
/// what a Cloudflare `Container` subclass sets in code.
public struct ClassSettings: Sendable, Equatable {
    /// `defaultPort`; when unset, the first port the image EXPOSEs.
    public var defaultPort: Int?
    /// `requiredPorts`; when empty, `defaultPort`.
    public var requiredPorts: [Int] = []
    /// `sleepAfter`, default 10 minutes.
    public var sleepAfter: Duration = .seconds(600)
    public var envVars: [String: String] = [:]
    public var entrypoint: [String]?
    public var enableInternet = true
    /// `pingEndpoint`: `host[/path]` of the readiness request.
    public var pingEndpoint = "ping"
    public var labels: [String: String] = [:]
    /// `crash_backoff`: waits between starts that keep failing.
    public var crashBackoff = CrashBackoff()
    /// `pids_limit`, `no_new_privileges`, `cap_add`, `read_only_root`.
    public var isolation = ContainerIsolation()
    /// `websocket_activity`: what keeps an object with open WebSockets awake.
    public var webSocketActivity = WebSocketActivity.open

    public init() {}
}

extension ClassSettings: Codable {
    enum CodingKeys: String, CodingKey {
        case defaultPort = "default_port", requiredPorts = "required_ports", sleepAfter = "sleep_after", envVars = "env_vars"
        case entrypoint, enableInternet = "enable_internet", pingEndpoint = "ping_endpoint", labels
        case crashBackoff = "crash_backoff"
        case webSocketActivity = "websocket_activity"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(defaultPort, forKey: .defaultPort)
        try c.encode(requiredPorts, forKey: .requiredPorts)
        try c.encode(DurationText.format(sleepAfter), forKey: .sleepAfter)
        try c.encode(envVars, forKey: .envVars)
        try c.encodeIfPresent(entrypoint, forKey: .entrypoint)
        try c.encode(enableInternet, forKey: .enableInternet)
        try c.encode(pingEndpoint, forKey: .pingEndpoint)
        try c.encode(labels, forKey: .labels)
        try c.encode(crashBackoff, forKey: .crashBackoff)
        try c.encode(webSocketActivity, forKey: .webSocketActivity)
        try isolation.encode(to: encoder)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        defaultPort = try c.decodeIfPresent(Int.self, forKey: .defaultPort)
        requiredPorts = try c.decodeIfPresent([Int].self, forKey: .requiredPorts) ?? []
        sleepAfter = DurationText.parse(try c.decodeIfPresent(String.self, forKey: .sleepAfter) ?? "10m") ?? .seconds(600)
        envVars = try c.decodeIfPresent([String: String].self, forKey: .envVars) ?? [:]
        entrypoint = try c.decodeIfPresent([String].self, forKey: .entrypoint)
        enableInternet = try c.decodeIfPresent(Bool.self, forKey: .enableInternet) ?? true
        pingEndpoint = try c.decodeIfPresent(String.self, forKey: .pingEndpoint) ?? "ping"
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        crashBackoff = try c.decodeIfPresent(CrashBackoff.self, forKey: .crashBackoff) ?? CrashBackoff()
        webSocketActivity = try c.decodeIfPresent(WebSocketActivity.self, forKey: .webSocketActivity) ?? .open
        isolation = try ContainerIsolation(from: decoder)
    }
}

/// A zero-code route: requests whose path starts with `prefix` go to an object of `binding`.
public struct RouteConfig: Sendable, Equatable, Codable {
    public var prefix: String
    /// A Durable Object binding name (`MY_CONTAINER`).
    public var binding: String
    public var object: ObjectSelector

    public init(prefix: String, binding: String, object: ObjectSelector) {
        self.prefix = prefix
        self.binding = binding
        self.object = object
    }

    /// The routes of Cloudflare's containers template, for a project that declares none.
    public static func template(binding: String) -> [RouteConfig] {
        [
            RouteConfig(prefix: "/container", binding: binding, object: .path),
            RouteConfig(prefix: "/lb", binding: binding, object: .random(3)),
            RouteConfig(prefix: "/singleton", binding: binding, object: .singleton),
            RouteConfig(prefix: "/error", binding: binding, object: .name("error-test")),
        ]
    }
}

/// Which object a route picks.
public enum ObjectSelector: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `idFromName(pathname)`, as the template does.
    case path
    /// `idFromName` of the path after the prefix.
    case rest
    /// `idFromName` of a request header's value.
    case header(String)
    /// `idFromName` of a cookie's value.
    case cookie(String)
    /// `idFromName` of a query parameter's value.
    case query(String)
    /// `getRandom(binding, n)`.
    case random(Int)
    /// `getContainer(binding)`: the name `cf-singleton-container`.
    case singleton
    /// A fixed name.
    case name(String)

    /// Parses `path`, `rest`, `header:NAME`, `cookie:NAME`, `query:NAME`, `random:N`,
    /// `singleton`, `name:NAME`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        let argument = parts.count == 2 ? parts[1] : nil
        switch (parts.first ?? "", argument) {
        case ("path", nil): self = .path
        case ("rest", nil): self = .rest
        case ("singleton", nil): self = .singleton
        case ("random", nil): self = .random(3)
        case ("random", let n?): guard let count = Int(n), count > 0 else { return nil }; self = .random(count)
        case ("header", let name?) where !name.isEmpty: self = .header(name)
        case ("cookie", let name?) where !name.isEmpty: self = .cookie(name)
        case ("query", let name?) where !name.isEmpty: self = .query(name)
        case ("name", let name?) where !name.isEmpty: self = .name(name)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .path: "path"
        case .rest: "rest"
        case .header(let n): "header:\(n)"
        case .cookie(let n): "cookie:\(n)"
        case .query(let n): "query:\(n)"
        case .random(let n): "random:\(n)"
        case .singleton: "singleton"
        case .name(let n): "name:\(n)"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = ObjectSelector(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an object selector: \(text)"))
        }
        self = value
    }
}
