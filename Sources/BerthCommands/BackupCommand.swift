import ArgumentParser
import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import Foundation

/// `berth backup FILE`: an online copy of the project's state store, made from the folder
/// itself (no admin API, no token): SQLite lets a second process read a consistent snapshot
/// while the server writes, and the server's lock on the folder is not needed for that.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the project's state (.berth/state.sqlite) to FILE, while the server runs or not.",
        discussion: """
            The copy is consistent (one moment of the state, taken with SQLite's online backup API) \
            and checked (PRAGMA integrity_check) before it is written. To restore: stop the server, \
            copy FILE to .berth/state.sqlite (removing state.sqlite-wal and -shm), start the server.
            """
    )

    @Argument(help: "Where to write the copy.", completion: .file())
    var file: String

    @Option(name: .customLong("project"), help: "The project folder whose state to copy (default: the current folder).", completion: .directory)
    var project: String = "."

    @Flag(help: "Replace FILE if it exists.")
    var force = false

    func run() async throws {
        do throws(BerthError) {
            let stateDir = ConfigLoader.load(folder: project).config?.berth.stateDir ?? ".berth"
            let state = StateDirectory(folder: project, stateDir: stateDir)
            let report = try await StateStore.backup(from: state.databasePath, to: file, overwrite: force)
            printLine(
                "Backed up \(state.databasePath) to \(report.path): \(report.bytes) bytes, schema version \(report.schemaVersion), "
                    + "\(report.deployments) deployment(s), \(report.instances) instance(s), \(report.events) event(s); integrity check \(report.integrity)"
            )
            if let copied = try Self.copySecrets(state.secretsPath, to: file + ".secrets.json", overwrite: force) {
                printLine("Backed up \(state.secretsPath) to \(copied) (mode 0600: it holds the secrets' values)")
            }
        } catch {
            throw fail(error)
        }
    }

    /// The secrets (`secrets.json`, replaced whole on every change, so any read of it is one
    /// version) beside the copy, owner-only; nil when the project has none.
    static func copySecrets(_ source: String, to target: String, overwrite: Bool) throws(BerthError) -> String? {
        guard let data = FileManager.default.contents(atPath: source) else { return nil }
        let flags = O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL)
        let fd = open(target, flags, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw BerthError(.conflict, "\(target) exists already; pass --force to replace it") }
            throw BerthError(.invalidInput, "cannot write \(target): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // A file replaced with --force keeps no wider mode than the copy needs.
        fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            throw BerthError(.invalidInput, "cannot write \(target): \(String(cString: strerror(errno)))")
        }
        return target
    }
}
