import BerthCore
import Foundation
import Synchronization

/// One Durable Object's own storage: a SQLite database (`.berth/objects/<class>/<object id>.sqlite`,
/// WAL) that the object's SQL and its key–value pairs share, made by its first write (a read
/// of an object that never wrote makes nothing). No object sees another's.
///
/// Every operation holds the object's lock, so one object's storage runs one thing at a
/// time, as a Durable Object's does; ``transaction(_:)`` runs several as one, rolled back
/// when its body throws.
public final class ObjectStorage: Sendable {
    public let path: String
    private weak let root: ObjectStorageRoot?
    private let state: Mutex<Connection>
    /// When it was last used, on its root's clock: the least recently used is closed first.
    let lastUse = Atomic<UInt64>(0)

    /// The one session of the object, holding its database once opened (`nil` while
    /// closed, or never written); used only under the lock.
    fileprivate struct Connection: @unchecked Sendable {
        let session: StorageSession
    }

    package init(path: String, root: ObjectStorageRoot?) {
        self.path = path
        self.root = root
        self.state = Mutex(Connection(session: StorageSession(path: path)))
    }

    /// Whether the object ever wrote (its database exists).
    public var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// `storage.sql.exec(query, bindings…)`.
    public func exec(_ query: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor {
        try typed { try $0.exec(query, bindings) }
    }

    public func get(_ key: String) throws(BerthError) -> [UInt8]? {
        try typed { try $0.get(key) }
    }

    public func put(_ key: String, _ value: [UInt8]) throws(BerthError) {
        try typed { try $0.put(key, value) }
    }

    /// Whether `key` was there.
    @discardableResult
    public func delete(_ key: String) throws(BerthError) -> Bool {
        try typed { try $0.delete(key) }
    }

    public func list(_ options: StorageListOptions = StorageListOptions()) throws(BerthError) -> [(key: String, value: [UInt8])] {
        try typed { try $0.list(options) }
    }

    /// Runs `body` as one transaction: all of it, or (when it throws) none of it.
    public func transaction<T>(_ body: (StorageSession) throws -> T) throws -> T {
        try session { session in
            try session.begin()
            do {
                let result = try body(session)
                try session.commit()
                return result
            } catch {
                session.rollback()
                throw error
            }
        }
    }

    /// Deletes everything the object stored: every table (its SQL's and its key–value
    /// pairs) is dropped in one transaction and the file shrunk. The file itself stays, so
    /// that another process with the database open (an old Worker version still finishing a
    /// request) never writes to a file that is gone.
    public func deleteAll() throws(BerthError) {
        try typed { session in
            guard let database = try session.existing() else { return }
            _ = try database.run("BEGIN IMMEDIATE")
            do {
                let objects = try database.run("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")
                for row in objects.rows {
                    guard case .text(let type) = row[0], case .text(let name) = row[1] else { continue }
                    _ = try database.run("DROP \(type == "view" ? "VIEW" : "TABLE") IF EXISTS \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"")
                }
                _ = try database.run("COMMIT")
            } catch {
                _ = try? database.run("ROLLBACK")
                throw error
            }
            _ = try? database.run("VACUUM")
            // The next use makes the key–value table again.
            session.reopen()
        }
    }

    /// Runs Berth's own SQL on the object (its schedules' table): not refused for `_cf_`
    /// names as the object's SQL is.
    package func execInternal(_ query: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor {
        try typed { try $0.execInternal(query, bindings) }
    }

    /// ``transaction(_:)`` for Berth's own work on the object.
    package func internalTransaction<T>(_ body: (StorageSession) throws -> T) throws(BerthError) -> T {
        do { return try transaction(body) } catch { throw BerthError.wrap(error) }
    }

    /// Closes the database (it opens again on the next use). False when it is in use.
    @discardableResult
    package func close() -> Bool {
        let closed: Bool? = state.withLockIfAvailable { connection -> Bool in
            connection.session.reopen()
            return true
        }
        return closed != nil
    }

    package var isOpen: Bool { state.withLock { $0.session.database != nil } }

    /// ``session(_:)`` for the operations that throw Berth's errors only.
    private func typed<T>(_ body: (StorageSession) throws -> T) throws(BerthError) -> T {
        do { return try session(body) } catch { throw BerthError.wrap(error) }
    }

    private func session<T>(_ body: (StorageSession) throws -> T) throws -> T {
        var result: Result<T, any Error>?
        let opened = state.withLock { connection -> Bool in
            let session = connection.session
            let wasOpen = session.database != nil
            result = Result { try body(session) }
            return !wasOpen && session.database != nil
        }
        if let root {
            lastUse.store(root.tick(), ordering: .relaxed)
            if opened { root.opened(self) }
        }
        return try result!.get()
    }
}

/// `list`'s options, as Cloudflare's: keys from `start` (inclusive) to `end` (exclusive),
/// those beginning with `prefix`, in order (or `reverse`), at most `limit`.
public struct StorageListOptions: Sendable, Equatable, Codable {
    public var prefix: String?
    public var start: String?
    public var end: String?
    public var reverse: Bool
    public var limit: Int?

    public init(prefix: String? = nil, start: String? = nil, end: String? = nil, reverse: Bool = false, limit: Int? = nil) {
        self.prefix = prefix
        self.start = start
        self.end = end
        self.reverse = reverse
        self.limit = limit
    }
}

/// One object's storage while its lock is held: what ``ObjectStorage``'s operations and a
/// transaction's body use. The database opens (or is made, for a write) on first use.
public final class StorageSession {
    let path: String
    package fileprivate(set) var database: SQLiteDatabase?

    fileprivate init(path: String) {
        self.path = path
    }

    /// Whether the object never wrote.
    var isNew: Bool { database == nil && !FileManager.default.fileExists(atPath: path) }

    public func exec(_ query: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor {
        if database == nil, isNew {
            // A read of an object that never wrote runs on an empty database and makes
            // nothing; nor does SQL whose first statement cannot run there (it names a table
            // that does not exist): its error is the answer.
            let empty = try SQLiteDatabase.empty()
            if empty.isReadOnly(query) || !empty.firstStatementCompiles(query) { return try empty.run(query, bindings, guarded: true) }
        }
        return try open(create: true).run(query, bindings, guarded: true)
    }

    public func get(_ key: String) throws(BerthError) -> [UInt8]? {
        guard let database = try existing() else { return nil }
        return try keyValue(database, "SELECT value FROM _cf_KV WHERE key = ?", slot: 0) { statement throws(BerthError) in
            database.bindText(key, at: 1, in: statement)
            return try database.stepOnce(statement) ? database.columnBytes(0, of: statement) : nil
        } ?? nil
    }

    public func put(_ key: String, _ value: [UInt8]) throws(BerthError) {
        let database = try open(create: true)
        let sql = "INSERT INTO _cf_KV (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        let write = { (statement: OpaquePointer) throws(BerthError) -> Bool in
            database.bindText(key, at: 1, in: statement)
            database.bindBlob(value, at: 2, in: statement)
            return try database.stepOnce(statement)
        }
        if try keyValue(database, sql, slot: 1, write) == nil {
            // Another connection dropped the table (deleteAll): it is made again.
            _ = try database.run(Self.keyValueTable)
            _ = try database.withPrepared(sql, slot: 1, write)
        }
    }

    @discardableResult
    public func delete(_ key: String) throws(BerthError) -> Bool {
        guard let database = try existing() else { return false }
        return try keyValue(database, "DELETE FROM _cf_KV WHERE key = ?", slot: 2) { statement throws(BerthError) in
            database.bindText(key, at: 1, in: statement)
            _ = try database.stepOnce(statement)
            return database.changes > 0
        } ?? false
    }

    public func list(_ options: StorageListOptions = StorageListOptions()) throws(BerthError) -> [(key: String, value: [UInt8])] {
        guard let database = try existing() else { return [] }
        var conditions: [String] = []
        var bindings: [SQLValue] = []
        if let start = options.start { conditions.append("key >= ?"); bindings.append(.text(start)) }
        if let end = options.end { conditions.append("key < ?"); bindings.append(.text(end)) }
        if let prefix = options.prefix, !prefix.isEmpty {
            conditions.append("substr(key, 1, ?) = ?")
            bindings += [.integer(Int64(prefix.count)), .text(prefix)]
        }
        var sql = "SELECT key, value FROM _cf_KV"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY key " + (options.reverse ? "DESC" : "ASC")
        if let limit = options.limit { sql += " LIMIT \(max(0, limit))" }
        let rows: [[SQLValue]]
        do { rows = try database.run(sql, bindings).rows } catch {
            if error.message.contains("no such table: _cf_KV") { return [] }
            throw error
        }
        return rows.compactMap { row in
            guard case .text(let key) = row[0], case .blob(let value) = row[1] else { return nil }
            return (key, value)
        }
    }

    fileprivate func begin() throws(BerthError) {
        _ = try open(create: true).run("BEGIN IMMEDIATE")
    }

    fileprivate func commit() throws(BerthError) {
        _ = try database?.run("COMMIT")
    }

    fileprivate func rollback() {
        _ = try? database?.run("ROLLBACK")
    }

    /// The database, made now when `create` (with the key–value table).
    private func open(create: Bool) throws(BerthError) -> SQLiteDatabase {
        if let database { return database }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BerthError(.internal, "cannot make \(folder) for an object's storage: \(error.localizedDescription)")
        }
        let opened = try SQLiteDatabase(path: path, create: create)
        _ = try opened.run(Self.keyValueTable)
        database = opened
        return opened
    }

    static let keyValueTable = "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"

    /// Runs a key–value statement; nil when the table is gone (another connection to the
    /// database ran `deleteAll`), which reads as empty.
    private func keyValue<T>(_ database: SQLiteDatabase, _ sql: String, slot: Int, _ body: (OpaquePointer) throws(BerthError) -> T) throws(BerthError) -> T? {
        do {
            return try database.withPrepared(sql, slot: slot, body)
        } catch {
            if error.message.contains("no such table: _cf_KV") { return nil }
            throw error
        }
    }

    /// Berth's own SQL (on a database made if need be).
    package func execInternal(_ query: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor {
        try open(create: true).run(query, bindings)
    }

    /// Closes the database; the next use opens it again (and makes the key–value table).
    fileprivate func reopen() {
        database?.close()
        database = nil
    }

    /// The database if the object ever wrote; nil (and nothing made) otherwise.
    package func existing() throws(BerthError) -> SQLiteDatabase? {
        if let database { return database }
        guard !isNew else { return nil }
        return try open(create: false)
    }
}

