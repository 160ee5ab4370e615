import BerthAPI
import BerthCore
import BerthRuntime
import BerthStorage
import Foundation

/// What operators read of objects' storage: through a connection opened read-only, so that
/// nothing they run can change an object's data.
extension ClassRegistry {
    /// The object `object` (its id, or the name its id is derived from) of `className`.
    func objectID(className: String, _ object: String) throws(BerthError) -> ObjectID {
        if let id = try? ObjectID.fromString(object) { return id }
        guard let containerClass = self[className] else { throw BerthError(.notFound, "no container class \(className)") }
        return containerClass.idFromName(object)
    }

    private func storageRoot() throws(BerthError) -> ObjectStorageRoot {
        guard let objects else { throw BerthError(.unavailable, "this server keeps no object storage") }
        return objects
    }

    public func storageView(className: String, object: String) async throws(BerthError) -> ObjectStorageView {
        let root = try storageRoot()
        let id = try objectID(className: className, object)
        let path = root.path(className: className, objectHex: id.hex)
        let size = ["", "-wal"].reduce(0) { total, suffix in
            total + (((try? FileManager.default.attributesOfItem(atPath: path + suffix))?[.size] as? Int) ?? 0)
        }
        let pending = await alarms?.pending.first { $0.key == AlarmScheduler.Key(className: className, objectHex: id.hex) }
        func read(_ sql: String) throws(BerthError) -> SQLCursor? {
            do { return try root.readOnly(className: className, objectHex: id.hex, sql) } catch {
                if error.message.contains("no such table") { return nil }
                throw error
            }
        }
        let schedules = try read("SELECT id, callback, payload, at FROM _cf_schedules ORDER BY at, seq")?.rows.compactMap { row -> ObjectStorageView.ScheduleView? in
            guard let id = row[0].text, let callback = row[1].text, let at = row[3].real else { return nil }
            return ObjectStorageView.ScheduleView(id: id, callback: callback, time: Date(timeIntervalSince1970: at), payload: row[2].text)
        } ?? []
        let objectAlarm = try read("SELECT at FROM _cf_alarm WHERE id = 1")?.rows.first?[0].real.map { Date(timeIntervalSince1970: $0) }
        var tables: [ObjectStorageView.TableView] = []
        for row in try read("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name")?.rows ?? [] {
            guard let name = row[0].text else { continue }
            let count = try read("SELECT count(*) FROM \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"")?.rows.first?[0].integer ?? 0
            tables.append(ObjectStorageView.TableView(name: name, rows: Int(count)))
        }
        let pairs = try read("SELECT key, value FROM _cf_KV ORDER BY key LIMIT \(ObjectStorageView.keyLimit + 1)")?.rows ?? []
        let keys = pairs.prefix(ObjectStorageView.keyLimit).compactMap { row -> ObjectStorageView.KeyView? in
            guard let key = row[0].text else { return nil }
            let bytes = row[1].blob ?? []
            return ObjectStorageView.KeyView(key: key, value: String(validating: bytes, as: UTF8.self), bytes: bytes.count)
        }
        return ObjectStorageView(
            className: className, objectID: id.hex, objectName: id.name, exists: FileManager.default.fileExists(atPath: path), sizeBytes: size,
            alarm: pending?.due, alarmRetries: pending?.retries, objectAlarm: objectAlarm, schedules: schedules, tables: tables,
            keys: keys, keysTruncated: pairs.count > ObjectStorageView.keyLimit
        )
    }

    /// Runs `query` on the object's database opened read-only: a statement that would write
    /// fails (`attempt to write a readonly database`), and nothing is made for an object that
    /// never wrote.
    public func readOnlyQuery(className: String, object: String, _ query: StorageQuery) throws(BerthError) -> StorageQueryResult {
        let root = try storageRoot()
        let id = try objectID(className: className, object)
        guard let cursor = try root.readOnly(className: className, objectHex: id.hex, query.query, (query.bindings ?? []).map(\.value)) else {
            throw BerthError(.notFound, "object \(id.name ?? id.hex) of \(className) has no storage: it never wrote")
        }
        return StorageQueryResult(columns: cursor.columnNames, rows: cursor.rows.map { $0.map(StorageCell.init) }, rowsRead: cursor.rowsRead)
    }
}
