public import BerthCore
public import BerthStorage
public import Foundation

/// An object's own storage: `ctx.storage` of a Durable Object. One SQLite database per
/// object (`.berth/objects/<class>/<object id>.sqlite`), made by its first write, that its SQL
/// (``sql``) and its key–value pairs share; no object sees another's. It outlives the
/// object's containers, `destroy()` and `containers delete`.
///
/// Values are `Codable`, stored as JSON. Each operation runs on its own, one at a time per
/// object; ``transaction(_:)`` runs several as one, rolled back when its body throws.
///
/// ```swift
/// let count = try context.storage.transaction { txn in
///     let next = (try txn.get("count", as: Int.self) ?? 0) + 1
///     try txn.put("count", next)
///     return next
/// }
/// ```
public struct DurableObjectStorage: Sendable {
    let link: any ObjectLink
    /// The object's database, found once (a storage kept across calls finds it no more).
    private let found: Result<ObjectStorage, BerthError>

    package init(link: any ObjectLink) {
        self.link = link
        do throws(BerthError) { found = .success(try link.storage()) } catch { found = .failure(error) }
    }

    private func database() throws(BerthError) -> ObjectStorage { try found.get() }

    /// `storage.sql.exec(query, bindings…)`.
    public var sql: SqlStorage {
        let found = self.found
        return SqlStorage(database: { () throws(BerthError) in try found.get() })
    }

    public func get<T: Decodable>(_ key: String, as type: T.Type = T.self) throws(BerthError) -> T? {
        try StorageValues.decode(try database().get(key), as: type, key: key)
    }

    /// The values of those of `keys` that are there.
    public func get<T: Decodable>(_ keys: [String], as type: T.Type = T.self) throws(BerthError) -> [String: T] {
        try database().internalTransaction { session in try StorageValues.get(keys, as: type, in: session) }
    }

    public func put<T: Encodable>(_ key: String, _ value: T) throws(BerthError) {
        try database().put(key, StorageValues.encode(value, key: key))
    }

    /// Puts every entry, in one transaction.
    public func put<T: Encodable>(_ entries: [String: T]) throws(BerthError) {
        var encoded: [String: [UInt8]] = [:]
        for (key, value) in entries { encoded[key] = try StorageValues.encode(value, key: key) }
        try database().internalTransaction { session in
            for (key, value) in encoded { try session.put(key, value) }
        }
    }

    /// Whether `key` was there.
    @discardableResult
    public func delete(_ key: String) throws(BerthError) -> Bool {
        try database().delete(key)
    }

    /// How many of `keys` were there.
    @discardableResult
    public func delete(_ keys: [String]) throws(BerthError) -> Int {
        try database().internalTransaction { session in try keys.reduce(0) { $0 + (try session.delete($1) ? 1 : 0) } }
    }

    /// Pairs in key order (``StorageListOptions``: prefix, start, end, reverse, limit).
    public func list<T: Decodable>(_ options: StorageListOptions = StorageListOptions(), as type: T.Type = T.self) throws(BerthError) -> [(key: String, value: T)] {
        try StorageValues.decode(try database().list(options), as: type)
    }

    /// Runs `body` as one transaction: all of it, or, when it throws, none of it (the error
    /// comes back).
    public func transaction<R>(_ body: (StorageTransaction) throws -> R) throws -> R {
        try database().transaction { session in try body(StorageTransaction(session: session)) }
    }

    /// Deletes everything the object stored (SQL tables and key–value pairs alike). Its
    /// alarm stays: ``deleteAlarm()`` removes that, as on Cloudflare.
    public func deleteAll() throws(BerthError) {
        try database().deleteAll()
    }

    /// When the object's alarm is set to fire (nil: none).
    public func getAlarm() async throws(BerthError) -> Date? {
        try ObjectAlarm(link: link).userAlarm()
    }

    /// Sets the object's one alarm (replacing any): at `time`, its class's `alarm(_:)` runs,
    /// without starting its container unless the hook does. It survives restarts: an alarm
    /// due while Berth was down runs once Berth is back.
    public func setAlarm(_ time: Date) async throws(BerthError) {
        try await ObjectAlarm(link: link).setUserAlarm(time)
    }

    /// ``setAlarm(_:)`` `delay` from now.
    public func setAlarm(after delay: Duration) async throws(BerthError) {
        try await setAlarm(Date().addingTimeInterval(delay.seconds))
    }

    public func deleteAlarm() async throws(BerthError) {
        try await ObjectAlarm(link: link).setUserAlarm(nil)
    }
}

/// One transaction's view of an object's storage (what ``DurableObjectStorage/transaction(_:)``'s
/// body gets): the same operations, all committed together.
public struct StorageTransaction {
    let session: StorageSession

    public var sql: SqlTransaction { SqlTransaction(session: session) }

    public func get<T: Decodable>(_ key: String, as type: T.Type = T.self) throws(BerthError) -> T? {
        try StorageValues.decode(try session.get(key), as: type, key: key)
    }

    public func put<T: Encodable>(_ key: String, _ value: T) throws(BerthError) {
        try session.put(key, StorageValues.encode(value, key: key))
    }

    @discardableResult
    public func delete(_ key: String) throws(BerthError) -> Bool {
        try session.delete(key)
    }

    public func list<T: Decodable>(_ options: StorageListOptions = StorageListOptions(), as type: T.Type = T.self) throws(BerthError) -> [(key: String, value: T)] {
        try StorageValues.decode(try session.list(options), as: type)
    }
}

/// `storage.sql`: the object's SQL. Tables whose names begin with `_cf_` are Berth's (the
/// key–value pairs, the schedules) and refused, as on Cloudflare.
public struct SqlStorage: Sendable {
    let database: @Sendable () throws(BerthError) -> ObjectStorage

    /// Runs `query` (one statement or several, separated by `;`) with `bindings` taken in
    /// order by its `?` parameters; the cursor has the last statement's rows that has any.
    @discardableResult
    public func exec(_ query: String, _ bindings: any SQLConvertible...) throws(BerthError) -> SQLCursor {
        try database().exec(query, bindings.map(\.sqlValue))
    }

    /// ``exec(_:_:)`` with the bindings as an array.
    @discardableResult
    public func exec(_ query: String, bindings: [SQLValue]) throws(BerthError) -> SQLCursor {
        try database().exec(query, bindings)
    }

    /// The database's size in bytes (`sql.databaseSize`); 0 for an object that never wrote.
    public var databaseSize: Int {
        guard let database = try? database(), let attributes = try? FileManager.default.attributesOfItem(atPath: database.path) else { return 0 }
        return (attributes[.size] as? Int) ?? 0
    }
}

/// `sql` inside a transaction.
public struct SqlTransaction {
    let session: StorageSession

    @discardableResult
    public func exec(_ query: String, _ bindings: any SQLConvertible...) throws(BerthError) -> SQLCursor {
        try session.exec(query, bindings.map(\.sqlValue))
    }
}

/// How values are stored: JSON.
enum StorageValues {
    static func encode<T: Encodable>(_ value: T, key: String) throws(BerthError) -> [UInt8] {
        // The commonest values skip Foundation's encoder (the same JSON comes out).
        if let number = value as? Int { return Array(String(number).utf8) }
        if let flag = value as? Bool { return Array((flag ? "true" : "false").utf8) }
        if let text = value as? String, let plain = plainJSONString(text) { return plain }
        do { return Array(try JSONEncoder().encode(value)) } catch {
            throw BerthError(.invalidInput, "storage.put(\"\(key)\"): the value cannot be encoded as JSON: \(error)")
        }
    }

    static func decode<T: Decodable>(_ bytes: [UInt8]?, as type: T.Type, key: String) throws(BerthError) -> T? {
        guard let bytes else { return nil }
        if T.self == Int.self, let number = Int(String(decoding: bytes, as: UTF8.self)) { return number as? T }
        if T.self == String.self, let text = plainText(bytes) { return text as? T }
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch {
            throw BerthError(.invalidInput, "storage.get(\"\(key)\"): the stored value is not a \(type): \(error)")
        }
    }

    /// `text` as a JSON string when it needs no escaping (else nil: the encoder does it).
    static func plainJSONString(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = [0x22]
        bytes.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x22 || byte == 0x5C || byte == 0x2F { return nil }
            bytes.append(byte)
        }
        bytes.append(0x22)
        return bytes
    }

    /// A stored JSON string without escapes, read without the decoder (else nil).
    static func plainText(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 2, bytes.first == 0x22, bytes.last == 0x22 else { return nil }
        let inner = bytes[1..<(bytes.count - 1)]
        guard !inner.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 < 0x20 }) else { return nil }
        return String(decoding: inner, as: UTF8.self)
    }

    static func decode<T: Decodable>(_ pairs: [(key: String, value: [UInt8])], as type: T.Type) throws(BerthError) -> [(key: String, value: T)] {
        try pairs.map { pair throws(BerthError) in (pair.key, try decode(pair.value, as: type, key: pair.key)!) }
    }

    static func get<T: Decodable>(_ keys: [String], as type: T.Type, in session: StorageSession) throws(BerthError) -> [String: T] {
        var found: [String: T] = [:]
        for key in keys {
            if let value = try decode(try session.get(key), as: type, key: key) { found[key] = value }
        }
        return found
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
