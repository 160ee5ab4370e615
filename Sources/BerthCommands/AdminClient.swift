import ArgumentParser
import AsyncHTTPClient
import BerthAPI
import BerthConfig
import BerthCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// How a command finds the running server: `--server` and `--token`, else `BERTH_SERVER`
/// and `BERTH_TOKEN`, else the `server.json` and `admin-token` a server wrote into the
/// project's state folder. An `https` server's certificate is verified against the system's
/// CAs and `--ca` (or `BERTH_CA`), the CA file of a private CA.
struct ServerSelection: ParsableArguments {
    @Option(name: .customLong("project"), help: "The project folder whose .berth/ names the server (default: the current folder).", completion: .directory)
    var project: String = "."

    @Option(help: "The admin API's URL, e.g. http://127.0.0.1:8788 (default: from .berth/server.json).")
    var server: String?

    @Option(help: "The admin token (default: .berth/admin-token). Prefer BERTH_TOKEN to keep it out of the process list.")
    var token: String?

    @Option(help: "A PEM file of the CA that signed an https server's certificate, trusted besides the system's (default: BERTH_CA).", completion: .file())
    var ca: String?

    /// The client for the server, or a one-line error saying how to point at one.
    func client(folder: String? = nil) throws(BerthError) -> AdminClient {
        let folder = folder ?? project
        let environment = ProcessInfo.processInfo.environment
        let stateDir = (ConfigLoader.load(folder: folder).config?.berth.stateDir) ?? ".berth"
        let state = StateDirectory(folder: folder, stateDir: stateDir)
        let url = server ?? environment["BERTH_SERVER"] ?? state.readServerInfo()?.adminURL
        guard let url, !url.isEmpty else {
            throw BerthError(.unavailable, "no Berth server found for \(folder): \(state.serverFilePath) does not exist. Start one with `berth serve \(folder)`, or pass --server URL --token TOKEN")
        }
        let token = token ?? environment["BERTH_TOKEN"] ?? state.readToken()
        guard let token, !token.isEmpty else {
            throw BerthError(.unauthorized, "no admin token: pass --token, set BERTH_TOKEN, or run from the project whose .berth/admin-token the server wrote")
        }
        let ca = ca ?? environment["BERTH_CA"].flatMap { $0.isEmpty ? nil : $0 }
        if let ca, !FileManager.default.isReadableFile(atPath: ca) {
            let origin = self.ca == nil ? "BERTH_CA=\(ca)" : "--ca \(ca)"
            throw BerthError(.invalidInput, "\(origin): no such file, or it cannot be read; name the PEM file of the CA that signed the server's certificate")
        }
        return AdminClient(baseURL: url.hasSuffix("/") ? String(url.dropLast()) : url, token: token, ca: ca)
    }
}

/// A client of the admin API. Errors come back as ``BerthError``s with the server's message.
struct AdminClient: Sendable {
    let baseURL: String
    let token: String
    /// A private CA's PEM file, trusted besides the system's for an `https` server.
    var ca: String?

    func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws(BerthError) -> T {
        try await send(.GET, path, body: nil)
    }

    func delete<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws(BerthError) -> T {
        try await send(.DELETE, path, body: nil)
    }

    func post<T: Decodable>(_ path: String, _ value: some Encodable, as type: T.Type = T.self) async throws(BerthError) -> T {
        let data: Data
        do { data = try AdminJSON.encoder.encode(value) } catch { throw BerthError.wrap(error) }
        return try await send(.POST, path, body: data)
    }

    /// PUTs raw bytes (a Worker executable) and decodes the answer.
    func put<T: Decodable>(_ path: String, bytes: Data, as type: T.Type = T.self) async throws(BerthError) -> T {
        try await send(.PUT, path, body: bytes, contentType: "application/octet-stream")
    }

    private func send<T: Decodable>(_ method: HTTPMethod, _ path: String, body: Data?, contentType: String = "application/json") async throws(BerthError) -> T {
        let response = try await execute(method, path, body: body, contentType: contentType, timeout: .seconds(120))
        let buffer: ByteBuffer
        do { buffer = try await response.body.collect(upTo: 64 << 20) } catch {
            throw BerthError(.unavailable, "the connection to the Berth server at \(baseURL) broke: \(error)")
        }
        let data = Data(buffer.readableBytesView)
        do {
            return try AdminJSON.decoder.decode(T.self, from: data)
        } catch {
            throw BerthError(.internal, "the Berth server at \(baseURL) answered something unexpected for \(path): \(error)")
        }
    }

    /// Sends a request; a non-2xx answer becomes the server's error. Streams stay open.
    func execute(
        _ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String = "application/json", timeout: TimeAmount
    ) async throws(BerthError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.client(ca: ca).execute(request, timeout: timeout)
        } catch {
            if let refusal = Self.certificateRefusal(error) {
                throw BerthError(.unavailable, "the Berth server at \(baseURL) is not trusted: \(refusal)")
            }
            throw BerthError(.unavailable, "cannot reach the Berth server at \(baseURL) (\(Self.reason(error))); is `berth serve` running? Point at another with --server")
        }
        guard (200..<300).contains(response.status.code) else {
            let buffer = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            struct Failure: Decodable {
                struct Detail: Decodable { let code: String; let message: String }
                let error: Detail
            }
            if let failure = try? AdminJSON.decoder.decode(Failure.self, from: Data(buffer.readableBytesView)) {
                throw BerthError(.init(failure.error.code), failure.error.message)
            }
            throw BerthError(.internal, "the Berth server at \(baseURL) answered \(response.status.code) for \(path)")
        }
        return response
    }

    /// One client per CA file, kept for the process. Each fails at once when nothing listens
    /// (the shared client retries connecting until the request's deadline) and verifies an
    /// `https` server's certificate and name against the system's CAs and `ca`.
    static func client(ca: String?) -> HTTPClient {
        clients.withLock { clients in
            if let client = clients[ca ?? ""] { return client }
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .seconds(5), read: nil)
            configuration.connectionPool.retryConnectionEstablishment = false
            var tls = TLSConfiguration.makeClientConfiguration()
            if let ca { tls.additionalTrustRoots = [.file(ca)] }
            configuration.tlsConfiguration = tls
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            clients[ca ?? ""] = client
            return client
        }
    }

    private static let clients = Mutex<[String: HTTPClient]>([:])

    /// Why the server's certificate was refused, with what to do, when that is the error.
    static func certificateRefusal(_ error: any Error) -> String? {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") || text.contains("unable to get local issuer") {
            return "its certificate is not signed by a CA this machine trusts (\(text)); pass --ca FILE (or set BERTH_CA) with the CA that signed it"
        }
        if text.contains("hostname") || text.contains("Hostname") || text.contains("unableToValidateCertificate") {
            return "its certificate does not name the host in the URL (\(text)); use a --server URL with one of the certificate's names"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("wrong version number") {
            return "it does not speak TLS at that address (\(text)); use http:// for a server without berth.tls.admin"
        }
        return nil
    }

    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("Timeout") || text.contains("timeout") { return "timed out" }
        return text
    }
}
