/// The state of an object's container, as `getState()` reports it.
public enum ContainerStatus: Sendable, Equatable, CustomStringConvertible {
    /// No container (initial, or stopped on request).
    case stopped
    /// A container was started; its ports do not answer yet.
    case running
    /// The container's ports answer; requests are proxied.
    case healthy
    /// A stop was requested and the container has not exited yet.
    case stopping
    /// The container exited on its own with this code.
    case stoppedWithCode(Int)

    /// Cloudflare's spelling: `stopped`, `running`, `healthy`, `stopping`, `stopped_with_code`.
    public var name: String {
        switch self {
        case .stopped: "stopped"
        case .running: "running"
        case .healthy: "healthy"
        case .stopping: "stopping"
        case .stoppedWithCode: "stopped_with_code"
        }
    }

    public var exitCode: Int? {
        if case .stoppedWithCode(let code) = self { return code }
        return nil
    }

    public var description: String {
        exitCode.map { "stopped_with_code(\($0))" } ?? name
    }

    /// Reads back a ``description``.
    public init?(_ description: String) {
        switch description {
        case "stopped": self = .stopped
        case "running": self = .running
        case "healthy": self = .healthy
        case "stopping": self = .stopping
        default:
            guard description.hasPrefix("stopped_with_code("), description.hasSuffix(")"),
                  let code = Int(description.dropFirst("stopped_with_code(".count).dropLast())
            else { return nil }
            self = .stoppedWithCode(code)
        }
    }
}

/// Why a container stopped, as `onStop` receives it.
public enum StopReason: String, Sendable {
    /// The container's process exited on its own.
    case exit
    /// Berth stopped it: a request to stop, idleness, destroy or shutdown.
    case runtimeSignal = "runtime_signal"
}
