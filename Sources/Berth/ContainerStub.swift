public import BerthCore
public import Foundation
public import HTTPTypes

/// A stub of one container-enabled Durable Object: what `env.MY_CONTAINER.get(id)` returns.
/// Getting a stub starts nothing; the first `fetch` starts the container.
public struct ContainerStub: Sendable {
    let link: any ObjectLink

    package init(_ link: any ObjectLink) {
        self.link = link
    }

    public var id: ObjectID { link.id }

    /// Sends the request to the container: to the port in `cf-container-target-port` (see
    /// ``switchPort(_:_:)``), else `defaultPort`. Starts the container if needed.
    /// Failures come back as responses, as Cloudflare's do: 503 when no instance is available,
    /// 500 when the container fails to start, 502 when it drops the connection.
    public func fetch(_ request: Request) async -> Response {
        let port = request.headers[.containerTargetPort].flatMap { Int($0) }
        var request = request
        request.headers[.containerTargetPort] = nil
        return await link.fetch(request, port: port)
    }

    /// Sends the request to `port` (default: `defaultPort`), starting the container if needed.
    public func containerFetch(_ request: Request, port: Int? = nil) async -> Response {
        await link.fetch(request, port: port)
    }

    /// Starts the container without waiting for its ports.
    public func start(_ options: StartOptions = StartOptions()) async {
        await link.start(options)
    }

    /// Starts the container if needed and returns once its ports answer.
    public func startAndWaitForPorts(_ options: StartOptions = StartOptions()) async throws(BerthError) {
        try await link.startAndWaitForPorts(options)
    }

    /// SIGTERM, the grace period, then SIGKILL; returns once stopped.
    public func stop() async {
        await link.stop()
    }

    /// SIGKILL at once; returns once stopped.
    public func destroy() async {
        await link.destroy()
    }

    /// `running`, `healthy`, `stopping`, `stopped` or `stopped_with_code`.
    public func getState() async -> ContainerStatus {
        await link.state()
    }

    /// Counts as activity: the idle timer starts again.
    public func renewActivityTimeout() async {
        await link.renewActivityTimeout()
    }

    /// The object's storage, from the Worker: the same database its Container class's
    /// `context.storage` reaches. Using it starts nothing.
    public var storage: DurableObjectStorage { DurableObjectStorage(link: link) }

    /// Runs the object's class's callback named `callback` at `time` (see
    /// ``ContainerContext/schedule(at:_:payload:)``).
    @discardableResult
    public func schedule(at time: Date, _ callback: String, payload: some Encodable & Sendable) async throws(BerthError) -> Schedule {
        let json: String
        do { json = String(decoding: try JSONEncoder().encode(payload), as: UTF8.self) } catch {
            throw BerthError(.invalidInput, "schedule \(callback): the payload cannot be encoded as JSON: \(error)")
        }
        return try await ObjectSchedules(link: link).schedule(at: time, callback, payloadJSON: json)
    }

    @discardableResult
    public func schedule(at time: Date, _ callback: String) async throws(BerthError) -> Schedule {
        try await ObjectSchedules(link: link).schedule(at: time, callback, payloadJSON: nil)
    }

    @discardableResult
    public func schedule(after delay: Duration, _ callback: String) async throws(BerthError) -> Schedule {
        try await schedule(at: Date().addingTimeInterval(delay.seconds), callback)
    }

    @discardableResult
    public func schedule(after delay: Duration, _ callback: String, payload: some Encodable & Sendable) async throws(BerthError) -> Schedule {
        try await schedule(at: Date().addingTimeInterval(delay.seconds), callback, payload: payload)
    }

    public func getSchedule(_ id: String) throws(BerthError) -> Schedule? {
        try ObjectSchedules(link: link).get(id)
    }

    public func listSchedules(callback: String? = nil, from: Date? = nil, to: Date? = nil) throws(BerthError) -> [Schedule] {
        try ObjectSchedules(link: link).list(callback: callback, from: from, to: to)
    }

    @discardableResult
    public func deleteSchedules(id: String? = nil, callback: String? = nil) async throws(BerthError) -> Int {
        try await ObjectSchedules(link: link).delete(id: id, callback: callback)
    }
}

extension HTTPField.Name {
    /// The header ``switchPort(_:_:)`` sets and `fetch` reads.
    public static let containerTargetPort = HTTPField.Name("cf-container-target-port")!
}

extension Response {
    /// The response Cloudflare's containerFetch gives for a failure: the message as text, the
    /// status from the one table (``BerthCore/BerthError/Code/httpStatus``).
    public static func error(_ error: BerthError) -> Response {
        var response = Response.text(error.message + "\n", status: HTTPResponse.Status(code: error.code.httpStatus, reasonPhrase: error.code.httpReason))
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        return response
    }
}
