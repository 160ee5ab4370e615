/// The class properties of a ``Container`` type, as values: what replaces the class's
/// `berth.classes` settings.
public struct ContainerProperties: Sendable, Codable, Equatable {
    public var defaultPort: Int?
    public var requiredPorts: [Int]
    public var sleepAfter: Duration
    public var envVars: [String: String]
    public var entrypoint: [String]?
    public var enableInternet: Bool
    public var pingEndpoint: String
    public var labels: [String: String]
    public var webSocketActivity: WebSocketActivity

    public init(
        defaultPort: Int?, requiredPorts: [Int], sleepAfter: Duration, envVars: [String: String], entrypoint: [String]?,
        enableInternet: Bool, pingEndpoint: String, labels: [String: String], webSocketActivity: WebSocketActivity
    ) {
        self.defaultPort = defaultPort
        self.requiredPorts = requiredPorts
        self.sleepAfter = sleepAfter
        self.envVars = envVars
        self.entrypoint = entrypoint
        self.enableInternet = enableInternet
        self.pingEndpoint = pingEndpoint
        self.labels = labels
        self.webSocketActivity = webSocketActivity
    }
}
