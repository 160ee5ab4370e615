import BerthCore
import Foundation

/// The server's folder (`.berth/` in the project by default): `state.sqlite`, the admin
/// token (mode 0600), `secrets.json` (mode 0600) and `server.json`, which tells the CLI where the running server listens.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = (path as NSString).standardizingPath
    }

    /// `berth.state_dir` of a project (default `.berth`), relative to its folder.
    public init(folder: String, stateDir: String = ".berth") {
        self.init(path: stateDir.hasPrefix("/") ? stateDir : (folder as NSString).appendingPathComponent(stateDir))
    }

    public var databasePath: String { file("state.sqlite") }
    public var tokenPath: String { file("admin-token") }
    public var serverFilePath: String { file("server.json") }
    /// The secrets `berth secret put` stored (mode 0600).
    public var secretsPath: String { file("secrets.json") }
    /// The Worker executables deployed, by the SHA-256 of their content.
    public var workersPath: String { file("workers") }
    /// Each Durable Object's own database, `objects/<class>/<id>.sqlite`, and the alarms.
    public var objectsPath: String { file("objects") }
    /// Where the Worker package of `berth dev` is built (SwiftPM's scratch path).
    public var workerBuildPath: String { file("worker-build") }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Creates the folder (mode 0700) if needed.
    public func create() throws(BerthError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BerthError(.invalidInput, "cannot create the state folder \(path): \(error.localizedDescription)")
        }
    }

    /// The admin token, generated on first use: 32 random bytes as hex, in a file only the
    /// owner can read. Returns the token and whether it was created now.
    public func adminToken() throws(BerthError) -> (token: String, created: Bool) {
        if let text = try? String(contentsOfFile: tokenPath, encoding: .utf8) {
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { return (token, false) }
        }
        let token = Hex.random(bytes: 32)
        let created = FileManager.default.createFile(
            atPath: tokenPath, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]
        )
        guard created else { throw BerthError(.invalidInput, "cannot write the admin token to \(tokenPath)") }
        chmod(tokenPath, 0o600)
        return (token, true)
    }

    /// The token, if a server wrote one.
    public func readToken() -> String? {
        (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes where the server listens, for the CLI.
    public func writeServerInfo(_ info: ServerInfo) {
        guard let data = try? AdminJSON.encoder.encode(info) else { return }
        FileManager.default.createFile(atPath: serverFilePath, contents: data, attributes: [.posixPermissions: 0o600])
    }

    public func readServerInfo() -> ServerInfo? {
        guard let data = FileManager.default.contents(atPath: serverFilePath) else { return nil }
        return try? AdminJSON.decoder.decode(ServerInfo.self, from: data)
    }
}
