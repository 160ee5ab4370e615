public import BerthCore
public import Foundation

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
    /// The callbacks ``ContainerContext/schedule(at:_:payload:)`` may name, by name:
    /// `["poll": { object, schedule in try await object.poll(schedule) }]`.
    static var callbacks: [String: ScheduleCallback<Self>] { get }

    init(context: ContainerContext)

    /// The object's alarm (``DurableObjectStorage/setAlarm(_:)``) fired: it runs without
    /// starting the container (start it here if need be). A thrown error is retried with
    /// exponential backoff (2 s, 4 s, … at most ``AlarmInfo/maxRetries`` times).
    func alarm(_ info: AlarmInfo) async throws
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
    public static var callbacks: [String: ScheduleCallback<Self>] { [:] }
    public func alarm(_ info: AlarmInfo) async throws {}

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

    /// This object's own storage (`ctx.storage`): SQL, key–value pairs and the alarm.
    public var storage: DurableObjectStorage { DurableObjectStorage(link: link) }

    /// Runs the class's callback named `callback` at `time`, with `payload` (stored as JSON),
    /// even across restarts: Cloudflare's `this.schedule(when, callback, payload)`.
    @discardableResult
    public func schedule(at time: Date, _ callback: String, payload: some Encodable & Sendable) async throws(BerthError) -> Schedule {
        try await ContainerStub(link).schedule(at: time, callback, payload: payload)
    }

    @discardableResult
    public func schedule(at time: Date, _ callback: String) async throws(BerthError) -> Schedule {
        try await ContainerStub(link).schedule(at: time, callback)
    }

    /// ``schedule(at:_:payload:)`` `delay` from now (`this.schedule(seconds, …)`).
    @discardableResult
    public func schedule(after delay: Duration, _ callback: String) async throws(BerthError) -> Schedule {
        try await ContainerStub(link).schedule(after: delay, callback)
    }

    public func getSchedule(_ id: String) throws(BerthError) -> Schedule? {
        try ContainerStub(link).getSchedule(id)
    }

    /// The object's schedules in the order they run: all, or those of `callback`, or those
    /// due between `from` and `to`.
    public func listSchedules(callback: String? = nil, from: Date? = nil, to: Date? = nil) throws(BerthError) -> [Schedule] {
        try ContainerStub(link).listSchedules(callback: callback, from: from, to: to)
    }

    /// Deletes the schedule `id`, or those of `callback`, or (neither given) all; returns how many.
    @discardableResult
    public func deleteSchedules(id: String? = nil, callback: String? = nil) async throws(BerthError) -> Int {
        try await ContainerStub(link).deleteSchedules(id: id, callback: callback)
    }

    /// Writes a line to Berth's log, tagged with the object.
    public func log(_ message: String) {
        print("[\(className) \(id.name ?? id.hex)] \(message)")
    }
}
