import BerthCore
import Foundation
@testable import BerthStorage
import Testing

@Suite("Durable Object storage: one SQLite database per object")
struct ObjectStorageTests {
    /// A storage root in a folder of its own, removed after `body`.
    func withRoot(maxOpen: Int = 256, _ body: (ObjectStorageRoot) throws -> Void) throws {
        let folder = NSTemporaryDirectory() + "berth-objects-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try body(ObjectStorageRoot(folder: folder, maxOpen: maxOpen))
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("an object that never wrote reads as empty and makes no file; its first write makes it, in WAL mode")
    func firstWrite() throws {
        try withRoot { root in
            let storage = root.storage(className: "Counter", objectHex: "abc123")
            #expect(try storage.get("missing") == nil)
            #expect(try storage.list().isEmpty)
            #expect(try storage.delete("missing") == false)
            #expect(try storage.exec("SELECT 1 AS one").rows == [[.integer(1)]])
            #expect(!storage.exists, "reads made nothing")
            #expect(!FileManager.default.fileExists(atPath: root.folder))
            try storage.put("count", bytes("1"))
            #expect(storage.exists)
            #expect(storage.path == root.folder + "/Counter/abc123.sqlite")
            #expect(try storage.exec("PRAGMA journal_mode").rows == [[.text("wal")]])
            #expect(try storage.get("count") == bytes("1"))
        }
    }

    @Test("key–value pairs: put replaces, delete says whether it was there, list by prefix, range, order and limit")
    func keyValue() throws {
        try withRoot { root in
            let storage = root.storage(className: "KV", objectHex: "1")
            for key in ["a", "b/1", "b/2", "b/3", "c"] { try storage.put(key, bytes("v-" + key)) }
            try storage.put("a", bytes("again"))
            #expect(try storage.get("a") == bytes("again"))
            #expect(try storage.list().map(\.key) == ["a", "b/1", "b/2", "b/3", "c"])
            #expect(try storage.list(StorageListOptions(prefix: "b/")).map(\.key) == ["b/1", "b/2", "b/3"])
            #expect(try storage.list(StorageListOptions(start: "b/2", end: "c")).map(\.key) == ["b/2", "b/3"])
            #expect(try storage.list(StorageListOptions(reverse: true, limit: 2)).map(\.key) == ["c", "b/3"])
            #expect(try storage.list(StorageListOptions(prefix: "b/")).first?.value == bytes("v-b/1"))
            #expect(try storage.delete("a"))
            #expect(try !storage.delete("a"))
            #expect(try storage.get("a") == nil)
        }
    }

    @Test("sql.exec: bindings, rows and columns, toArray and one, rows written; bad SQL is the caller's error")
    func sql() throws {
        try withRoot { root in
            let storage = root.storage(className: "SQL", objectHex: "1")
            _ = try storage.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT, progress REAL, data BLOB)")
            let inserted = try storage.exec("INSERT INTO jobs (name, progress, data) VALUES (?, ?, ?), (?, ?, ?)", ["build", 0.5, .blob([1, 2]), "test", 1.0, nil])
            #expect(inserted.rowsWritten == 2)
            let cursor = try storage.exec("SELECT id, name, progress, data FROM jobs WHERE progress >= ? ORDER BY id", [0.0])
            #expect(cursor.columnNames == ["id", "name", "progress", "data"])
            #expect(cursor.rows == [[1, "build", 0.5, .blob([1, 2])], [2, "test", 1.0, .null]])
            #expect(cursor.rowsRead >= 2)
            #expect(cursor.toArray()[1]["name"] == "test")
            #expect(try storage.exec("SELECT name FROM jobs WHERE id = ?", [2]).one()["name"] == "test")
            #expect(throws: BerthError.self) { try storage.exec("SELECT name FROM jobs").one() }
            #expect(throws: BerthError.self) { try storage.exec("SELECT nope FROM nowhere") }
            #expect(throws: BerthError.self) { try storage.exec("SELECT ?", []) }
            #expect(throws: BerthError.self) { try storage.exec("SELECT 1", [1]) }
            // Berth's own tables are out of the object's SQL's reach.
            try storage.put("secret", [9])
            for query in ["SELECT * FROM _cf_KV", "DELETE FROM _CF_kv", "DROP TABLE _cf_KV", "CREATE TABLE _cf_mine (x)", "CREATE INDEX i ON _cf_KV (value)"] {
                #expect(throws: BerthError.self, "\(query)") { try storage.exec(query) }
            }
            #expect(try storage.get("secret") == [9])
            // Several statements: the rows are the last one's that returns any.
            #expect(try storage.exec("UPDATE jobs SET progress = 1.0; SELECT count(*) FROM jobs WHERE progress = 1.0").rows == [[2]])
        }
    }

    @Test("a transaction commits as a whole, and rolls back SQL and key–value writes alike when its body throws")
    func transactions() throws {
        struct Refused: Error {}
        try withRoot { root in
            let storage = root.storage(className: "Tx", objectHex: "1")
            _ = try storage.exec("CREATE TABLE t (n INTEGER)")
            let total = try storage.transaction { session in
                _ = try session.exec("INSERT INTO t VALUES (1), (2)")
                try session.put("k", [1])
                return try session.exec("SELECT sum(n) FROM t").rows[0][0]
            }
            #expect(total == 3)
            #expect(throws: Refused.self) {
                try storage.transaction { session in
                    _ = try session.exec("INSERT INTO t VALUES (100)")
                    try session.put("k", [2])
                    try session.put("other", [3])
                    throw Refused()
                }
            }
            #expect(try storage.exec("SELECT sum(n) FROM t").rows == [[3]], "the insert was rolled back")
            #expect(try storage.get("k") == [1] && storage.get("other") == nil, "so were the puts")
        }
    }

    @Test("objects never see each other's storage, even with the same keys and tables")
    func isolation() throws {
        try withRoot { root in
            let a = root.storage(className: "Iso", objectHex: "a"), b = root.storage(className: "Iso", objectHex: "b")
            let other = root.storage(className: "Other", objectHex: "a")
            try a.put("owner", bytes("alice"))
            try b.put("owner", bytes("bob"))
            _ = try a.exec("CREATE TABLE notes (text TEXT)")
            _ = try a.exec("INSERT INTO notes VALUES ('a only')")
            #expect(try a.get("owner") == bytes("alice") && b.get("owner") == bytes("bob"))
            #expect(try other.get("owner") == nil, "the same id in another class is another object")
            #expect(throws: BerthError.self) { try b.exec("SELECT * FROM notes") }
            #expect(Set([a.path, b.path, other.path]).count == 3)
        }
    }

    @Test("many objects writing at once, with at most maxOpen databases open; forgotten objects close and reopen with their data")
    func manyObjects() async throws {
        let folder = NSTemporaryDirectory() + "berth-objects-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = ObjectStorageRoot(folder: folder, maxOpen: 8)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for object in 0..<40 {
                group.addTask {
                    let storage = root.storage(className: "Many", objectHex: "o\(object)")
                    for index in 0..<25 { try storage.put("k\(index)", Array("\(object)-\(index)".utf8)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(root.openCount <= 8)
        for object in 0..<40 {
            let storage = root.storage(className: "Many", objectHex: "o\(object)")
            let values = try storage.list().map { String(decoding: $0.value, as: UTF8.self) }
            #expect(values.count == 25 && values.allSatisfy { $0.hasPrefix("\(object)-") })
        }
        #expect(root.openCount <= 8)
        let kept = root.storage(className: "Many", objectHex: "o1")
        root.forget(className: "Many", objectHex: "o1")
        #expect(!kept.isOpen, "forgetting closes the object's database")
        let again = root.storage(className: "Many", objectHex: "o1")
        #expect(try again.get("k3") == Array("1-3".utf8), "and its data stays")
    }

    @Test("deleteAll drops every table and pair in one step; the file stays (another process may hold it) and takes writes again")
    func deleteAll() throws {
        try withRoot { root in
            let storage = root.storage(className: "Del", objectHex: "1")
            try storage.put("k", [1])
            _ = try storage.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT); CREATE VIEW named AS SELECT name FROM jobs; INSERT INTO jobs (name) VALUES ('a')")
            try storage.deleteAll()
            #expect(storage.exists, "the file stays")
            #expect(try storage.get("k") == nil)
            #expect(try storage.list().isEmpty)
            #expect(throws: BerthError.self) { try storage.exec("SELECT * FROM jobs") }
            #expect(try storage.exec("SELECT count(*) FROM sqlite_master").rows == [[.integer(1)]], "only the key–value table, made again")
            try storage.put("k", [2])
            #expect(try storage.get("k") == [2])
            // Another connection to the same file (an old Worker version's) sees the same.
            let other = ObjectStorageRoot(folder: root.folder).storage(className: "Del", objectHex: "1")
            #expect(try other.get("k") == [2])
            try other.deleteAll()
            #expect(try storage.get("k") == nil, "a delete by the other connection is seen here")
        }
    }

    @Test("kept statements: the object's SQL stays refused on Berth's tables even after Berth ran the same text; counts do not add up across runs")
    func preparedStatements() throws {
        try withRoot { root in
            let storage = root.storage(className: "Prep", objectHex: "1")
            try storage.put("secret", [7])
            // The text of the key–value read Berth runs itself, now as the object's own SQL.
            #expect(try storage.get("secret") == [7])
            #expect(throws: BerthError.self) { try storage.exec("SELECT value FROM _cf_KV WHERE key = ?", ["secret"]) }
            _ = try storage.exec("CREATE TABLE t (n INTEGER)")
            for n in 0..<5 {
                let inserted = try storage.exec("INSERT INTO t (n) VALUES (?)", [.integer(Int64(n))])
                #expect(inserted.rowsWritten == 1)
            }
            let first = try storage.exec("SELECT n FROM t WHERE n >= ?", [0])
            let again = try storage.exec("SELECT n FROM t WHERE n >= ?", [3])
            #expect(first.rows.count == 5 && again.rows == [[.integer(3)], [.integer(4)]])
            #expect(again.rowsRead <= first.rowsRead, "the second run's count is its own")
            #expect(throws: BerthError.self) { try storage.exec("SELECT n FROM t WHERE n >= ?") }
            #expect(try storage.exec("SELECT n FROM t WHERE n >= ?", [4]).rows == [[.integer(4)]], "a failed run leaves the kept statement usable")
        }
    }
}
