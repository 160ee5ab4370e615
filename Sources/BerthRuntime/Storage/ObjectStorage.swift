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
    private let state = Mutex(Connection())

    /// The database once opened (`nil` while closed, or never written).
    fileprivate struct Connection: @unchecked Sendable {
        var database: SQLiteDatabase?
    }

    init(path: String, root: ObjectStorageRoot) {
        self.path = path
        self.root = root
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

    /// Deletes everything the object stored: its database goes.
    public func deleteAll() throws(BerthError) {
        state.withLock { connection in
            connection.database?.close()
            connection.database = nil
        }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// Closes the database (it opens again on the next use). False when it is in use.
    @discardableResult
    func close() -> Bool {
        let closed: Bool? = state.withLockIfAvailable { connection -> Bool in
            connection.database?.close()
            connection.database = nil
            return true
        }
        return closed != nil
    }

    var isOpen: Bool { state.withLock { $0.database != nil } }

    /// ``session(_:)`` for the operations that throw Berth's errors only.
    private func typed<T>(_ body: (StorageSession) throws -> T) throws(BerthError) -> T {
        do { return try session(body) } catch { throw BerthError.wrap(error) }
    }

    private func session<T>(_ body: (StorageSession) throws -> T) throws -> T {
        let (result, opened): (T, Bool) = try state.withLock { (connection: inout Connection) throws -> (T, Bool) in
            let session = StorageSession(path: path, database: connection.database)
            defer { connection.database = session.database }
            let wasOpen = connection.database != nil
            let result = try body(session)
            return (result, !wasOpen && session.database != nil)
        }
        if opened { root?.opened(self) } else { root?.used(self) }
        return result
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
    fileprivate(set) var database: SQLiteDatabase?

    fileprivate init(path: String, database: SQLiteDatabase?) {
        self.path = path
        self.database = database
    }

    /// Whether the object never wrote.
    var isNew: Bool { database == nil && !FileManager.default.fileExists(atPath: path) }

    public func exec(_ query: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor {
        if database == nil, isNew {
            // A read of an object that never wrote runs on an empty database and makes nothing.
            let empty = try SQLiteDatabase.empty()
            if empty.isReadOnly(query) { return try empty.run(query, bindings, guarded: true) }
        }
        return try open(create: true).run(query, bindings, guarded: true)
    }

    public func get(_ key: String) throws(BerthError) -> [UInt8]? {
        guard let database = try existing() else { return nil }
        return try database.run("SELECT value FROM _cf_KV WHERE key = ?", [.text(key)]).rows.first.flatMap { row in
            if case .blob(let bytes) = row[0] { return bytes }
            return nil
        }
    }

    public func put(_ key: String, _ value: [UInt8]) throws(BerthError) {
        _ = try open(create: true).run("INSERT INTO _cf_KV (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [.text(key), .blob(value)])
    }

    @discardableResult
    public func delete(_ key: String) throws(BerthError) -> Bool {
        guard let database = try existing() else { return false }
        return try database.run("DELETE FROM _cf_KV WHERE key = ?", [.text(key)]).rowsWritten > 0
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
        return try database.run(sql, bindings).rows.compactMap { row in
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
        _ = try opened.run("CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID")
        database = opened
        return opened
    }

    /// The database if the object ever wrote; nil (and nothing made) otherwise.
    private func existing() throws(BerthError) -> SQLiteDatabase? {
        if let database { return database }
        guard !isNew else { return nil }
        return try open(create: false)
    }
}

/// Every object's storage under one state folder (`.berth/objects`), with a bound on the
/// databases open at once: the least recently used is closed first (it opens again when
/// used), and an object's is closed when the object is forgotten.
public final class ObjectStorageRoot: Sendable {
    public let folder: String
    public let maxOpen: Int
    private struct State {
        var storages: [String: ObjectStorage] = [:]
        /// Open databases, least recently used first.
        var recency: [ObjectIdentifier] = []
        var byID: [ObjectIdentifier: ObjectStorage] = [:]
    }
    private let state = Mutex(State())

    public init(folder: String, maxOpen: Int = 256) {
        self.folder = folder
        self.maxOpen = max(1, maxOpen)
    }

    /// The storage of object `hex` of `className`.
    public func storage(className: String, objectHex: String) -> ObjectStorage {
        let key = className + "/" + objectHex
        return state.withLock { state in
            if let known = state.storages[key] { return known }
            let path = ((folder as NSString).appendingPathComponent(Self.safe(className)) as NSString).appendingPathComponent(Self.safe(objectHex) + ".sqlite")
            let made = ObjectStorage(path: path, root: self)
            state.storages[key] = made
            return made
        }
    }

    /// The object is forgotten: its database closes (its data stays).
    public func forget(className: String, objectHex: String) {
        let storage = state.withLock { state -> ObjectStorage? in
            guard let storage = state.storages.removeValue(forKey: className + "/" + objectHex) else { return nil }
            state.recency.removeAll { $0 == ObjectIdentifier(storage) }
            state.byID[ObjectIdentifier(storage)] = nil
            return storage
        }
        storage?.close()
    }

    /// Databases open now.
    public var openCount: Int { state.withLock { $0.recency.count } }

    fileprivate func opened(_ storage: ObjectStorage) {
        let victims = state.withLock { state -> [ObjectStorage] in
            let id = ObjectIdentifier(storage)
            state.recency.removeAll { $0 == id }
            state.recency.append(id)
            state.byID[id] = storage
            var victims: [ObjectStorage] = []
            var index = 0
            while state.recency.count - victims.count > maxOpen, index < state.recency.count - 1 {
                if let victim = state.byID[state.recency[index]] { victims.append(victim) }
                index += 1
            }
            return victims
        }
        for victim in victims where victim.close() {
            state.withLock { state in
                state.recency.removeAll { $0 == ObjectIdentifier(victim) }
                state.byID[ObjectIdentifier(victim)] = nil
            }
        }
    }

    fileprivate func used(_ storage: ObjectStorage) {
        state.withLock { state in
            let id = ObjectIdentifier(storage)
            guard let index = state.recency.lastIndex(of: id), index != state.recency.count - 1 else { return }
            state.recency.remove(at: index)
            state.recency.append(id)
        }
    }

    /// A class name or id as one path component.
    static func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}
