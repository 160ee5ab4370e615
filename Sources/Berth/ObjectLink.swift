public import BerthCore
public import BerthStorage
public import Foundation

/// One container class as a Worker's stubs reach it: the class itself when the Worker runs in
/// the server's process, the link to the server when it runs in a Worker process of its own.
/// Everything a stub does goes through these two protocols, so the SDK compiles no engine
/// client, server or state store.
package protocol ObjectClassLink: Sendable {
    var className: String { get }
    /// The id of `name`: the same on every restart and every machine.
    func idFromName(_ name: String) -> ObjectID
    /// The object `id` (getting it starts nothing).
    func object(_ id: ObjectID) -> any ObjectLink
    /// The object named `name`: what `object(idFromName(name))` is, found faster.
    func object(named name: String) -> any ObjectLink
}

/// One object of a class, as its ``ContainerStub`` drives it.
package protocol ObjectLink: Sendable {
    var id: ObjectID { get }
    /// Sends `request` to `port` (default: the class's `defaultPort`), starting the container
    /// if needed; failures come back as responses.
    func fetch(_ request: Request, port: Int?) async -> Response
    func start(_ options: StartOptions) async
    func startAndWaitForPorts(_ options: StartOptions) async throws(BerthError)
    func stop() async
    func destroy() async
    func state() async -> ContainerStatus
    func renewActivityTimeout() async
    /// The object's own database (opened on first use, made on first write).
    func storage() throws(BerthError) -> ObjectStorage
    /// Reads or changes the time the platform fires the object's alarm.
    func alarm(_ change: AlarmChange) async throws(BerthError) -> Date?
    /// The callbacks its class declares for `schedule` (nil: not known here).
    var scheduleCallbacks: Set<String>? { get }
}

extension ObjectLink {
    package var scheduleCallbacks: Set<String>? { nil }
}

/// The class behind a binding the Worker's `env` does not have: every use answers with an
/// error that names the binding and the ones there are, rather than ending the process.
struct MissingBinding: ObjectClassLink, ObjectLink {
    let binding: String
    let known: [String]
    var id: ObjectID { ObjectID.fromName("", className: binding, app: "") }
    var className: String { binding }

    var error: BerthError {
        BerthError(.workerFailed, "the Worker used the Durable Object binding \(binding), which this deployment does not have (bindings: \(known.isEmpty ? "none" : known.joined(separator: ", "))); add it under durable_objects.bindings")
    }

    func idFromName(_ name: String) -> ObjectID { ObjectID.fromName(name, className: binding, app: "") }
    func object(_ id: ObjectID) -> any ObjectLink { self }
    func object(named name: String) -> any ObjectLink { self }
    func fetch(_ request: Request, port: Int?) async -> Response { .error(error) }
    func start(_ options: StartOptions) async {}
    func startAndWaitForPorts(_ options: StartOptions) async throws(BerthError) { throw error }
    func stop() async {}
    func destroy() async {}
    func state() async -> ContainerStatus { .stopped }
    func renewActivityTimeout() async {}
    func storage() throws(BerthError) -> ObjectStorage { throw error }
    func alarm(_ change: AlarmChange) async throws(BerthError) -> Date? { throw error }
}
