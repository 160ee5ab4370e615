import BerthCore
import Foundation
import NIOPosix
import VaporCSQLite

/// What `berth backup` wrote, read back from the copy.
public struct BackupReport: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var schemaVersion: Int
    /// `PRAGMA integrity_check` of the copy: `ok` when sound.
    public var integrity: String
    public var deployments: Int
    public var instances: Int
    public var events: Int
}

extension StateStore {
    /// Writes a consistent copy of the store at `source` to `destination`, while a server may
    /// serve and write it: SQLite's online backup API, from a connection of its own, copies
    /// every page in one read transaction (a snapshot: in WAL mode writers go on meanwhile),
    /// so no lock of the state folder is needed. The copy is a single file (rollback journal;
    /// a server opening it switches it back to WAL), written beside `destination` and moved
    /// there once checked, so that a failed backup leaves nothing half written. An existing
    /// `destination` is replaced only when `overwrite`.
    public static func backup(from source: String, to destination: String, overwrite: Bool) async throws(BerthError) -> BackupReport {
        guard FileManager.default.fileExists(atPath: source) else {
            throw BerthError(.notFound, "there is no state store at \(source): has a server run in this project (berth serve)? Pass --project for another folder")
        }
        if !overwrite && FileManager.default.fileExists(atPath: destination) {
            throw BerthError(.conflict, "\(destination) exists already; pass --force to replace it")
        }
        let result: Result<BackupReport, BerthError>
        do {
            result = try await NIOThreadPool.singleton.runIfActive {
                do throws(BerthError) {
                    return .success(try copy(from: source, to: destination, overwrite: overwrite))
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw BerthError(.internal, "cannot back up \(source): \(error)", cause: error)
        }
        return try result.get()
    }

    /// The blocking part of ``backup(from:to:overwrite:)``, on a thread of the pool.
    private static func copy(from source: String, to destination: String, overwrite: Bool) throws(BerthError) -> BackupReport {
        let folder = (destination as NSString).deletingLastPathComponent
        let temporary = (folder.isEmpty ? "." : folder) + "/.\((destination as NSString).lastPathComponent).partial-\(getpid())"
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) } }
        unlink(temporary)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw BerthError(.invalidInput, "cannot write \(destination): the folder \(folder) does not exist")
        }
        // Owner only, like the state folder (mode 0700): the copy holds all the state does.
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw BerthError(.invalidInput, "cannot write beside \(destination) (\(temporary)): \(String(cString: strerror(errno)))")
        }

        // Read-write without create: the source must exist, and a reader of a WAL database
        // may need to create its -shm file. Nothing is written through it.
        let from = try SQLiteHandle(path: source, flags: SQLITE_OPEN_READWRITE)
        defer { from.close() }
        let to = try SQLiteHandle(path: temporary, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        defer { to.close() }
        guard let backup = sqlite_nio_sqlite3_backup_init(to.raw, "main", from.raw, "main") else {
            throw BerthError(.internal, "cannot back up \(source) to \(destination): \(to.message)")
        }
        // One step of every page: one read transaction, so the copy is one moment of the
        // store and is never restarted by the server's writes. Busy only while a writer
        // holds what a reader briefly needs (a WAL restart): bounded retries.
        var status = sqlite_nio_sqlite3_backup_step(backup, -1)
        var retries = 0
        while (status == SQLITE_BUSY || status == SQLITE_LOCKED) && retries < 500 {
            retries += 1
            usleep(20_000)
            status = sqlite_nio_sqlite3_backup_step(backup, -1)
        }
        let finished = sqlite_nio_sqlite3_backup_finish(backup)
        guard status == SQLITE_DONE, finished == SQLITE_OK else {
            throw BerthError(.internal, "cannot back up \(source) to \(destination): \(String(cString: sqlite_nio_sqlite3_errstr(status == SQLITE_DONE ? finished : status)))")
        }
        // A file that stands alone: no -wal beside it to forget when copying it back.
        try to.execute("PRAGMA journal_mode=DELETE")
        let report = BackupReport(
            path: destination, bytes: 0, schemaVersion: (try? to.integer("PRAGMA user_version")) ?? 0,
            integrity: (try? to.text("PRAGMA integrity_check")) ?? "unreadable",
            deployments: (try? to.integer("SELECT COUNT(*) FROM deployments")) ?? 0,
            instances: (try? to.integer("SELECT COUNT(*) FROM instances")) ?? 0,
            events: (try? to.integer("SELECT COUNT(*) FROM events")) ?? 0
        )
        guard report.integrity == "ok" else {
            throw BerthError(.internal, "the copy of \(source) failed its integrity check (\(report.integrity)); \(destination) was not written")
        }
        to.close()
        // link() refuses an existing name: no FILE appearing meanwhile is replaced either.
        let moved = overwrite ? rename(temporary, destination) : link(temporary, destination)
        guard moved == 0 else {
            let problem = errno
            if problem == EEXIST { throw BerthError(.conflict, "\(destination) exists already; pass --force to replace it") }
            throw BerthError(.invalidInput, "cannot write \(destination): \(String(cString: strerror(problem)))")
        }
        var sized = report
        sized.bytes = ((try? FileManager.default.attributesOfItem(atPath: destination)[.size]) as? Int) ?? 0
        return sized
    }
}

/// A bare SQLite connection, for what SQLiteNIO's connection does not reach (the backup API).
/// Used from one thread at a time.
final class SQLiteHandle {
    private(set) var raw: OpaquePointer?
    let path: String

    init(path: String, flags: Int32) throws(BerthError) {
        self.path = path
        var handle: OpaquePointer?
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_FULLMUTEX, nil)
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? String(cString: sqlite_nio_sqlite3_errstr(status))
            sqlite_nio_sqlite3_close(handle)
            throw BerthError(.invalidInput, "cannot open \(path): \(message)")
        }
        raw = handle
        sqlite_nio_sqlite3_busy_timeout(handle, 10_000)
    }

    var message: String { raw.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "closed" }

    func close() {
        guard let open = raw else { return }
        sqlite_nio_sqlite3_close_v2(open)
        raw = nil
    }

    deinit { close() }

    func execute(_ sql: String) throws(BerthError) {
        _ = try text(sql)
    }

    func integer(_ sql: String) throws(BerthError) -> Int {
        Int(try text(sql) ?? "0") ?? 0
    }

    /// The first column of the first row, as text.
    @discardableResult
    func text(_ sql: String) throws(BerthError) -> String? {
        var statement: OpaquePointer?
        guard sqlite_nio_sqlite3_prepare_v2(raw, sql, -1, &statement, nil) == SQLITE_OK else {
            throw BerthError(.internal, "\(path): \(message)")
        }
        defer { sqlite_nio_sqlite3_finalize(statement) }
        let status = sqlite_nio_sqlite3_step(statement)
        guard status == SQLITE_ROW || status == SQLITE_DONE else { throw BerthError(.internal, "\(path): \(message)") }
        guard status == SQLITE_ROW, let text = sqlite_nio_sqlite3_column_text(statement, 0) else { return nil }
        return String(cString: text)
    }
}
