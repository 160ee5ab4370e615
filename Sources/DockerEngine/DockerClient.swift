import AsyncHTTPClient
import BerthCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A typed client of the Docker Engine API, over a unix socket or TCP.
///
/// One client per process is enough: it pools its connections. Call ``shutdown()`` when done.
/// Every failure is a `BerthError`; when the engine refused a request, its `cause` is a
/// ``DockerAPIError`` carrying the engine's status and message.
public final class DockerClient: Sendable {
    /// The oldest API this client speaks (Docker Engine 20.10).
    public static let minimumAPIVersion = APIVersion(1, 41)
    /// The newest API this client asks for; newer engines answer it too.
    public static let maximumAPIVersion = APIVersion(1, 47)

    public let host: DockerHost
    let http: HTTPClient
    let logger: Logger
    private let negotiatedVersion = Mutex<APIVersion?>(nil)

    /// Creates a client for `host` (default: `DOCKER_HOST`, else the default unix socket).
    public init(host: DockerHost, logger: Logger = Logger(label: "berth.docker")) {
        self.host = host
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        // Streams (logs, events, wait) may be silent for a long time: no read timeout.
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        // One `wait` per running container holds a connection for the container's lifetime,
        // so the pool must not stop at AsyncHTTPClient's default of 8 per host.
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 4096)
        configuration.httpVersion = .http1Only
        self.http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// A client for the engine named by the environment.
    public convenience init(logger: Logger = Logger(label: "berth.docker")) throws(BerthError) {
        do {
            self.init(host: try DockerHost.fromEnvironment(), logger: logger)
        } catch {
            throw BerthError(.invalidInput, error.description, cause: error)
        }
    }

    /// Closes every pooled connection. The client cannot be used afterwards.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Runs `body` with a client and shuts it down afterwards, also when `body` throws.
    public static func with<T: Sendable>(
        host: DockerHost? = nil, logger: Logger = Logger(label: "berth.docker"),
        _ body: (DockerClient) async throws -> T
    ) async throws -> T {
        let client = try host.map { DockerClient(host: $0, logger: logger) } ?? DockerClient(logger: logger)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    // MARK: Version negotiation

    /// The API version used for requests: the engine's own, capped at ``maximumAPIVersion``.
    public func apiVersion() async throws(BerthError) -> APIVersion {
        if let version = negotiatedVersion.withLock({ $0 }) { return version }
        let version = try await self.version()
        guard let engineVersion = APIVersion(version.apiVersion) else {
            throw BerthError(.engineError, "the engine reported an unreadable API version \"\(version.apiVersion)\"")
        }
        guard engineVersion >= Self.minimumAPIVersion else {
            throw BerthError(.engineError, "the engine at \(host) speaks API \(engineVersion) (Docker \(version.version)); Berth needs API \(Self.minimumAPIVersion) or newer (Docker 20.10+): upgrade the engine")
        }
        let chosen = min(engineVersion, Self.maximumAPIVersion)
        negotiatedVersion.withLock { $0 = chosen }
        logger.debug("negotiated engine API", metadata: ["api": "\(chosen)", "engine": "\(version.version)"])
        return chosen
    }

    // MARK: Requests

    /// One request to the engine. `path` starts with `/` and carries no version prefix.
    struct Request {
        var method: HTTPMethod = .GET
        var path: String
        var query: [(String, String?)] = []
        var headers: [(String, String)] = []
        var body: HTTPClientRequest.Body?
        /// Until the response head arrives; streaming bodies are not limited.
        var timeout: TimeAmount = .seconds(60)
        /// Names the operation in error messages, e.g. "start container web".
        var operation: String
        var versioned = true
    }

    /// Sends a request and returns the response once its status is a success; otherwise
    /// throws with the engine's own message.
    func send(_ request: Request) async throws(BerthError) -> HTTPClientResponse {
        if case .unix(let socketPath) = host, !FileManager.default.fileExists(atPath: socketPath) {
            // Fail at once rather than after the connect timeout.
            throw BerthError(
                .engineUnavailable,
                "cannot reach the Docker engine: \(socketPath) does not exist; is the engine running? Start it (`systemctl start docker`, or `dockerd`; in Berth's repository `make engine` installs and starts it), or set DOCKER_HOST"
            )
        }
        var path = request.path
        if request.versioned {
            let version = try await apiVersion()
            path = "/v\(version)\(path)"
        }
        let query = request.query.compactMap { key, value in value.map { "\(key)=\(Self.percentEncode($0))" } }
        if !query.isEmpty { path += "?" + query.joined(separator: "&") }

        var httpRequest = HTTPClientRequest(url: url(for: path))
        httpRequest.method = request.method
        httpRequest.headers.add(name: "User-Agent", value: "berth")
        if case .unix = host { httpRequest.headers.replaceOrAdd(name: "Host", value: "docker") }
        for (name, value) in request.headers { httpRequest.headers.add(name: name, value: value) }
        if let body = request.body { httpRequest.body = body }

        let response: HTTPClientResponse
        do {
            response = try await http.execute(httpRequest, timeout: request.timeout, logger: logger)
        } catch {
            throw mapTransportError(error, operation: request.operation, timeout: request.timeout)
        }
        guard (200..<300).contains(response.status.code) || response.status.code == 304 else {
            let text = (try? await response.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
            throw Self.apiError(status: Int(response.status.code), body: text, operation: request.operation)
        }
        return response
    }

    /// Sends a request and decodes a JSON answer.
    func sendJSON<T: Decodable>(_ request: Request, as type: T.Type = T.self, limit: Int = 64 << 20) async throws(BerthError) -> T {
        let response = try await send(request)
        let buffer: ByteBuffer
        do {
            buffer = try await response.body.collect(upTo: limit)
        } catch {
            throw BerthError(.engineError, "\(request.operation): reading the engine's answer failed", cause: error)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw BerthError(.engineError, "\(request.operation): the engine's answer could not be read (\(error))", cause: error)
        }
    }

    /// Sends a request whose answer carries nothing of interest, and drains it.
    func sendDiscardingBody(_ request: Request) async throws(BerthError) {
        let response = try await send(request)
        do {
            for try await _ in response.body {}
        } catch {
            throw BerthError(.engineError, "\(request.operation): the connection to the engine broke", cause: error)
        }
    }

    func url(for pathAndQuery: String) -> String {
        switch host {
        case .unix(let socketPath):
            return URL(httpURLWithSocketPath: socketPath, uri: pathAndQuery)!.absoluteString
        case .tcp(let name, let port):
            let hostPart = name.contains(":") ? "[\(name)]" : name
            return "http://\(hostPart):\(port)\(pathAndQuery)"
        }
    }

    static func percentEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    func mapTransportError(_ error: any Error, operation: String, timeout: TimeAmount) -> BerthError {
        if let error = error as? BerthError { return error }
        if let error = error as? HTTPClientError, error == .deadlineExceeded {
            return BerthError(.timeout, "\(operation): the engine did not answer within \(timeout.nanoseconds / 1_000_000_000)s", cause: error)
        }
        if error is CancellationError { return BerthError(.timeout, "\(operation): cancelled", cause: error) }
        if let error = error as? HTTPClientError, error == .getConnectionFromPoolTimeout {
            return BerthError(.timeout, "\(operation): no connection to the engine became free in time; the engine is overloaded", cause: error)
        }
        return BerthError(
            .engineUnavailable,
            "cannot reach the Docker engine at \(host) (\(error)); is it running? Start it (`systemctl start docker`, or `dockerd`; in Berth's repository `make engine` installs and starts it), or set DOCKER_HOST",
            cause: error
        )
    }

    static func apiError(status: Int, body: String, operation: String) -> BerthError {
        struct Message: Decodable { var message: String }
        let message = (try? JSONDecoder().decode(Message.self, from: Data(body.utf8)))?.message
            ?? body.trimmingWhitespace()
        let detail = DockerAPIError(status: status, message: message.isEmpty ? "HTTP \(status)" : message)
        let code: BerthError.Code =
            switch status {
            case 404: .notFound
            case 409: .conflict
            case 400: .invalidInput
            default: .engineError
            }
        return BerthError(code, "\(operation): \(detail.message)", cause: detail)
    }

    static func json(_ value: some Encodable) throws(BerthError) -> String {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw BerthError(.internal, "could not encode a request to the engine: \(error)", cause: error)
        }
    }
}

/// An Engine API version such as `1.41`.
public struct APIVersion: Sendable, Comparable, CustomStringConvertible, Hashable {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
