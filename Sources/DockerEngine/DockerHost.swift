import Foundation

/// Where the engine listens: a unix socket or a TCP address, as `DOCKER_HOST` spells it.
public enum DockerHost: Sendable, Equatable, CustomStringConvertible {
    case unix(path: String)
    case tcp(host: String, port: Int)

    public static let defaultSocket = "/var/run/docker.sock"

    /// The host named by `DOCKER_HOST`, else the default unix socket.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(DockerHostError) -> DockerHost {
        guard let value = environment["DOCKER_HOST"], !value.isEmpty else { return .unix(path: defaultSocket) }
        return try parse(value)
    }

    /// Parses `unix:///path`, `tcp://host:port` or `http://host:port`.
    public static func parse(_ text: String) throws(DockerHostError) -> DockerHost {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else { throw DockerHostError(value: text, reason: "a unix socket path must be absolute, e.g. unix:///var/run/docker.sock") }
            return .unix(path: path)
        }
        for scheme in ["tcp://", "http://"] where text.hasPrefix(scheme) {
            var rest = String(text.dropFirst(scheme.count))
            if let slash = rest.firstIndex(of: "/") { rest = String(rest[..<slash]) }
            let host: String
            let portText: String?
            if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                portText = after.hasPrefix(":") ? String(after.dropFirst()) : nil
            } else if let colon = rest.lastIndex(of: ":") {
                host = String(rest[..<colon])
                portText = String(rest[rest.index(after: colon)...])
            } else {
                host = rest
                portText = nil
            }
            guard !host.isEmpty else { throw DockerHostError(value: text, reason: "the host is missing, e.g. tcp://127.0.0.1:2375") }
            guard let port = Int(portText ?? "2375"), (1...65535).contains(port) else {
                throw DockerHostError(value: text, reason: "the port must be a number between 1 and 65535")
            }
            return .tcp(host: host, port: port)
        }
        throw DockerHostError(value: text, reason: "use unix:///path/to/docker.sock or tcp://host:port (TLS hosts are not supported)")
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }
}

/// `DOCKER_HOST` holds something Berth cannot use.
public struct DockerHostError: Error, Sendable, CustomStringConvertible {
    public var value: String
    public var reason: String
    public var description: String { "DOCKER_HOST=\(value) is not usable: \(reason)" }
}
