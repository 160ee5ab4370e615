import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore

/// A real OCI registry (Debian's docker-registry) on a loopback port, with htpasswd auth,
/// stopped and deleted afterwards.
public final class LocalRegistry: @unchecked Sendable {
    public let port: Int
    public let username = "berth"
    public let password = UUID().uuidString
    public let folder: String
    let process = Process()
    public var address: String { "127.0.0.1:\(port)" }

    public init() throws {
        folder = NSTemporaryDirectory() + "berth-registry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
        port = try LoopbackPort.free()
        let htpasswd = try Self.output(["htpasswd", "-Bbn", username, password])
        try htpasswd.write(toFile: folder + "/htpasswd", atomically: true, encoding: .utf8)
        try """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(folder)/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
            auth:
              htpasswd:
                realm: berth-test
                path: \(folder)/htpasswd

            """.write(toFile: folder + "/config.yml", atomically: true, encoding: .utf8)
        guard let binary = ["/usr/bin/docker-registry", "/usr/bin/registry"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BerthError(.notFound, "docker-registry is missing: `make test` installs it")
        }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", folder + "/config.yml"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    /// Waits until the registry answers `/v2/` (401 without credentials).
    public func waitUntilReady() async throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let status = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://\(address)/v2/"), timeout: .seconds(1)).status.code,
                status == 401
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BerthError(.timeout, "the registry on \(address) did not start")
    }

    /// The tags the registry holds for `repository`, read with the credentials.
    public func tags(_ repository: String) async throws -> String {
        var request = HTTPClientRequest(url: "http://\(address)/v2/\(repository)/tags/list")
        let credentials = Data("\(username):\(password)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        return String(buffer: try await response.body.collect(upTo: 1 << 16))
    }

    public func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }

    static func output(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BerthError(.internal, "\(arguments[0]) failed; `make test` installs apache2-utils") }
        return String(decoding: data, as: UTF8.self)
    }
}
