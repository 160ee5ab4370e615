public import BerthCore

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

    /// The class properties, as the server applies them to its container class (a Worker
    /// process sends them when it starts).
    public static var properties: ContainerProperties {
        ContainerProperties(
            defaultPort: defaultPort, requiredPorts: requiredPorts, sleepAfter: sleepAfter, envVars: envVars, entrypoint: entrypoint,
            enableInternet: enableInternet, pingEndpoint: pingEndpoint, labels: labels, webSocketActivity: webSocketActivity
        )
    }
}

/// What a ``Container`` value knows about its object: its id, and a stub to control its
/// own container from hooks (`context.container.stop()`).
public struct ContainerContext: Sendable {
    public let id: ObjectID
    /// The class's name.
    public let className: String
    let link: any ObjectLink

    package init(className: String, link: any ObjectLink) {
        self.id = link.id
        self.className = className
        self.link = link
    }

    /// This object's own container.
    public var container: ContainerStub {
        ContainerStub(link)
    }

    /// Writes a line to Berth's log, tagged with the object.
    public func log(_ message: String) {
        print("[\(className) \(id.name ?? id.hex)] \(message)")
    }
}
