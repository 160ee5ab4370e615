/// What the engine said when it refused a request: its HTTP status and its own message.
/// Carried as the `cause` of a `BerthError`.
public struct DockerAPIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    public var message: String

    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "engine answered \(status): \(message)" }
}
