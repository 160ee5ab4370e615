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
        } catch {
            throw fail(error)
        }
    }
}
