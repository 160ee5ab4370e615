public import BerthConfig
public import BerthCore
public import BerthRuntime

/// A container-enabled Durable Object class: what `class MyContainer extends Container`
/// is in Cloudflare's SDK. Set the class properties as static members; implement any hook.
/// One value is created per object id, the first time the object is used.
///
/// ```swift
/// struct MyContainer: Container {
///     static let defaultPort: Int? = 8080
///     static let sleepAfter: Duration = .seconds(120)
///     static let envVars = ["MESSAGE": "I was passed in via the container class!"]
///     let context: ContainerContext
///     init(context: ContainerContext) { self.context = context }
///     func onStart() async { context.log("Container successfully started") }
/// }
/// ```
public protocol Container: ContainerHooks {
    /// Port used by `fetch` and `containerFetch` when none is given.
    static var defaultPort: Int? { get }
    /// Ports that must all answer before the container counts as ready (default: `defaultPort`).
    static var requiredPorts: [Int] { get }
    /// Idle time after the last request before the container is stopped (default 10 minutes).
    static var sleepAfter: Duration { get }
    static var envVars: [String: String] { get }
    /// Replaces the image's entrypoint when set.
    static var entrypoint: [String]? { get }
    /// false: the container gets no route out of the machine.
    static var enableInternet: Bool { get }
    /// `host[/path]` of the readiness request (default `ping`); any HTTP answer counts.
    static var pingEndpoint: String { get }
    static var labels: [String: String] { get }
    /// What keeps the object awake while WebSockets are open to it: `.open` (the default, an
    /// open socket does; `sleepAfter` counts from the last one's close) or `.frames` (only
    /// frames do; an idle stop closes the sockets with 1001).
    static var webSocketActivity: WebSocketActivity { get }

    init(context: ContainerContext)
}

extension Container {
    public static var defaultPort: Int? { nil }
    public static var requiredPorts: [Int] { [] }
    public static var sleepAfter: Duration { .seconds(600) }
    public static var envVars: [String: String] { [:] }
    public static var entrypoint: [String]? { nil }
    public static var enableInternet: Bool { true }
    public static var pingEndpoint: String { "ping" }
    public static var labels: [String: String] { [:] }
    public static var webSocketActivity: WebSocketActivity { .open }

    /// Applies the class properties to the settings of its container class.
    public static func apply(to settings: inout ContainerSettings) {
        if let port = defaultPort { settings.defaultPort = port }
        settings.requiredPorts = requiredPorts
        settings.sleepAfter = sleepAfter
        settings.envVars = settings.envVars.merging(envVars) { $1 }
        if let entrypoint { settings.entrypoint = entrypoint }
        settings.enableInternet = enableInternet
        settings.pingEndpoint = pingEndpoint
        settings.labels = settings.labels.merging(labels) { $1 }
        settings.webSocketActivity = webSocketActivity
    }
}

/// What a ``Container`` value knows about its object: its id, and a stub to control its
/// own container from hooks (`context.container.stop()`).
public struct ContainerContext: Sendable {
    public let id: ObjectID
    let containerClass: ContainerClass
    let proxy: ContainerProxy

    public init(id: ObjectID, containerClass: ContainerClass, proxy: ContainerProxy) {
        self.id = id
        self.containerClass = containerClass
        self.proxy = proxy
    }

    /// This object's own container.
    public var container: ContainerStub {
        ContainerStub(controller: containerClass.get(id), proxy: proxy)
    }

    /// Writes a line to Berth's log, tagged with the object.
    public func log(_ message: String) {
        print("[\(containerClass.className) \(id.name ?? id.hex)] \(message)")
    }
}
