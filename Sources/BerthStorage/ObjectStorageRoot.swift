import BerthCore
import Foundation
import Synchronization

/// Every object's storage under one state folder (`.berth/objects`), with a bound on the
/// databases open at once: the least recently used is closed first (it opens again when
/// used), and an object's is closed when the object is forgotten.
public final class ObjectStorageRoot: Sendable {
    public let folder: String
    public let maxOpen: Int
    private struct State {
        var storages: [String: ObjectStorage] = [:]
        /// Open databases.
        var open: [ObjectIdentifier: ObjectStorage] = [:]
    }
    private let state = Mutex(State())
    private let clock = Atomic<UInt64>(0)

    /// The next moment of the root's clock (each use of a storage takes one).
    func tick() -> UInt64 { clock.wrappingAdd(1, ordering: .relaxed).newValue }

    public init(folder: String, maxOpen: Int = 256) {
        self.folder = folder
        self.maxOpen = max(1, maxOpen)
    }

    /// The folder of a class's databases.
    public func classFolder(_ className: String) -> String {
        (folder as NSString).appendingPathComponent(Self.safe(className))
    }

    /// Where object `hex` of `className` keeps its database.
    public func path(className: String, objectHex: String) -> String {
        (classFolder(className) as NSString).appendingPathComponent(Self.safe(objectHex) + ".sqlite")
    }

    /// The storage of object `hex` of `className`.
    public func storage(className: String, objectHex: String) -> ObjectStorage {
        let key = className + "/" + objectHex
        return state.withLock { state in
            if let known = state.storages[key] { return known }
            let made = ObjectStorage(path: path(className: className, objectHex: objectHex), root: self)
            state.storages[key] = made
            return made
        }
    }

    /// The object is forgotten: its database closes (its data stays).
    public func forget(className: String, objectHex: String) {
        let storage = state.withLock { state -> ObjectStorage? in
            guard let storage = state.storages.removeValue(forKey: className + "/" + objectHex) else { return nil }
            state.open[ObjectIdentifier(storage)] = nil
            return storage
        }
        storage?.close()
    }

    /// Runs `sql` on the object's database opened read-only (`SQLITE_OPEN_READONLY`), as an
    /// operator's query does: nothing it runs can write. Nil when the object never wrote.
    public func readOnly(className: String, objectHex: String, _ sql: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor? {
        let path = path(className: className, objectHex: objectHex)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let database = try SQLiteDatabase(path: path, create: false, readOnly: true)
        defer { database.close() }
        return try database.run(sql, bindings)
    }

    /// Object ids (their hex) of `className` that have a database.
    public func objects(of className: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: classFolder(className))) ?? []
        return names.filter { $0.hasSuffix(".sqlite") }.map { String($0.dropLast(".sqlite".count)) }.sorted()
    }

    /// Removes every database of `className` (a `deleted_classes` migration, or
    /// `containers delete --purge`): closes those open here, then deletes the class's folder.
    /// Returns how many objects' databases were removed.
    @discardableResult
    public func purge(className: String) -> Int {
        let removed = objects(of: className).count
        let open = state.withLock { state -> [ObjectStorage] in
            let prefix = className + "/"
            let keys = state.storages.keys.filter { $0.hasPrefix(prefix) }
            return keys.compactMap { key in
                guard let storage = state.storages.removeValue(forKey: key) else { return nil }
                state.open[ObjectIdentifier(storage)] = nil
                return storage
            }
        }
        for storage in open { storage.close() }
        try? FileManager.default.removeItem(atPath: classFolder(className))
        return removed
    }

    /// Databases open now.
    public var openCount: Int { state.withLock { $0.open.count } }

    /// `storage` opened its database: beyond `maxOpen`, the least recently used others close
    /// (one in use now stays open, and is closed when next found so).
    package func opened(_ storage: ObjectStorage) {
        let victims = state.withLock { state -> [ObjectStorage] in
            state.open[ObjectIdentifier(storage)] = storage
            guard state.open.count > maxOpen else { return [] }
            let others = state.open.values.filter { $0 !== storage }.sorted { $0.lastUse.load(ordering: .relaxed) < $1.lastUse.load(ordering: .relaxed) }
            return Array(others.prefix(state.open.count - maxOpen))
        }
        for victim in victims where victim.close() {
            state.withLock { $0.open[ObjectIdentifier(victim)] = nil }
        }
    }

    /// A class name or id as one path component.
    package static func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}
