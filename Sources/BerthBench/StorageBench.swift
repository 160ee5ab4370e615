import AsyncHTTPClient
import Berth
import BerthCore
import Foundation
import NIOCore
import VaporCSQLite

/// One storage workload, as Worker code runs it: `n` operations of `op` spread over `objects`
/// objects named `prefix-0` … (round-robin), through `stub.storage`. The same function runs in
/// the server's process and, behind ``BenchWorker``'s `/_storage` route, in a Worker process.
enum StorageWorkload {
    enum Op: String, CaseIterable { case kvPut = "kv_put", kvGet = "kv_get", sqlInsert = "sql_insert" }

    /// Makes each object's database (and the SQL table) before anything is timed.
    static func prepare(_ namespace: DurableObjectNamespace, prefix: String, objects: Int) throws {
        for object in 0..<objects {
            let storage = namespace.getByName("\(prefix)-\(object)").storage
            try storage.put("warm", 0)
            try storage.sql.exec("CREATE TABLE IF NOT EXISTS events (n INTEGER, name TEXT)")
        }
    }

    /// Seconds the `n` operations took.
    static func run(_ op: Op, _ namespace: DurableObjectNamespace, prefix: String, n: Int, objects: Int) throws -> Double {
        let storages = (0..<objects).map { namespace.getByName("\(prefix)-\($0)").storage }
        let started = ContinuousClock.now
        switch op {
        case .kvPut:
            for i in 0..<n { try storages[i % objects].put("k\(i)", i) }
        case .kvGet:
            var sum = 0
            for i in 0..<n { sum &+= try storages[i % objects].get("k\(i)", as: Int.self) ?? 0 }
            if sum < 0 { print(sum) }
        case .sqlInsert:
            for i in 0..<n { try storages[i % objects].sql.exec("INSERT INTO events (n, name) VALUES (?, ?)", i, "event") }
        }
        return (ContinuousClock.now - started).milliseconds / 1000
    }

    /// `/_storage?op=&n=&objects=&prefix=&prepare=1` in a Worker: the workload's seconds as text.
    static func answer(_ request: Berth.Request, env: Env) throws -> Berth.Response {
        guard let op = request.query("op").flatMap(Op.init(rawValue:)), let n = request.query("n").flatMap(Int.init),
              let objects = request.query("objects").flatMap(Int.init), let prefix = request.query("prefix") else {
            return .text("op, n, objects and prefix\n", status: .badRequest)
        }
        if request.query("prepare") == "1" {
            try prepare(env["WEB"], prefix: prefix, objects: objects)
            return .text("prepared\n")
        }
        return .text("\(try run(op, env["WEB"], prefix: prefix, n: n, objects: objects))\n")
    }
}

/// The same work on SQLite alone: a database per object (WAL, synchronous NORMAL, the same
/// tables), one statement prepared per database and kind, the same bytes bound.
final class BareSQLite {
    let folder: String
    private var databases: [OpaquePointer] = []
    private var statements: [Op: [OpaquePointer]] = [:]
    typealias Op = StorageWorkload.Op

    init(folder: String, objects: Int) throws {
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let sql: [Op: String] = [
            .kvPut: "INSERT INTO _cf_KV (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            .kvGet: "SELECT value FROM _cf_KV WHERE key = ?",
            .sqlInsert: "INSERT INTO events (n, name) VALUES (?, ?)",
        ]
        for object in 0..<objects {
            var handle: OpaquePointer?
            guard sqlite_nio_sqlite3_open_v2("\(folder)/\(object).sqlite", &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
                throw BerthError(.internal, "bare SQLite: cannot open a database in \(folder)")
            }
            for setup in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID",
                          "CREATE TABLE events (n INTEGER, name TEXT)", "INSERT INTO _cf_KV VALUES ('warm', '0')"] {
                sqlite_nio_sqlite3_exec(handle, setup, nil, nil, nil)
            }
            databases.append(handle)
            for (op, text) in sql {
                var statement: OpaquePointer?
                sqlite_nio_sqlite3_prepare_v2(handle, text, -1, &statement, nil)
                statements[op, default: []].append(statement!)
            }
        }
    }

    func run(_ op: Op, n: Int) -> Double {
        let prepared = statements[op]!
        let objects = prepared.count
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        let started = ContinuousClock.now
        for i in 0..<n {
            let statement = prepared[i % objects]
            switch op {
            case .kvPut:
                let value = Array(String(i).utf8)
                sqlite_nio_sqlite3_bind_text(statement, 1, "k\(i)", -1, transient)
                value.withUnsafeBytes { _ = sqlite_nio_sqlite3_bind_blob(statement, 2, $0.baseAddress, Int32($0.count), transient) }
            case .kvGet:
                sqlite_nio_sqlite3_bind_text(statement, 1, "k\(i)", -1, transient)
            case .sqlInsert:
                sqlite_nio_sqlite3_bind_int64(statement, 1, Int64(i))
                sqlite_nio_sqlite3_bind_text(statement, 2, "event", -1, transient)
            }
            while sqlite_nio_sqlite3_step(statement) == SQLITE_ROW {
                if op == .kvGet, let bytes = sqlite_nio_sqlite3_column_blob(statement, 0) {
                    // Read the value as the API does (it decodes it).
                    _ = Int(String(decoding: UnsafeRawBufferPointer(start: bytes, count: Int(sqlite_nio_sqlite3_column_bytes(statement, 0))), as: UTF8.self))
                }
            }
            sqlite_nio_sqlite3_reset(statement)
        }
        return (ContinuousClock.now - started).milliseconds / 1000
    }

    func close() {
        for list in statements.values { for statement in list { sqlite_nio_sqlite3_finalize(statement) } }
        for database in databases { sqlite_nio_sqlite3_close_v2(database) }
        try? FileManager.default.removeItem(atPath: folder)
    }
}

extension Harness {
    // MARK: Storage

    /// Durable Object storage against SQLite alone, in the same run: key–value puts and gets
    /// and SQL inserts, on one object and spread over 100, from Worker code in the server's
    /// process (`in_process`) and in a Worker process (`worker_process`), in alternating
    /// rounds; `storage.<op>.<one|hundred>.<base>_ops` and the ratios to `sqlite`.
    func storage(into results: inout Results) async throws {
        guard let platform = serving?.current?.platform else { throw BerthError(.internal, "the bench server serves nothing") }
        let namespace = platform.env["WEB"]
        let n = quick ? 2_000 : 10_000
        let rounds = quick ? 2 : 5
        for (spread, objects) in [("one", 1), ("hundred", 100)] {
            var ops: [String: [Double]] = [:]
            for round in 0..<rounds {
                let prefix = "storage-\(spread)-\(round)"
                let bare = try BareSQLite(folder: folder + "/bare-\(prefix)", objects: objects)
                defer { bare.close() }
                try StorageWorkload.prepare(namespace, prefix: prefix + "-in", objects: objects)
                _ = try await workerStorage("prepare=1&op=kv_put&n=0&objects=\(objects)&prefix=\(prefix)-wp")
                // Puts first (the gets read them), each op's bases in a rotating order.
                for op in StorageWorkload.Op.allCases {
                    let bases = ["sqlite", "in_process", "worker_process"].rotated(by: round)
                    for base in bases {
                        let seconds: Double
                        switch base {
                        case "sqlite": seconds = bare.run(op, n: n)
                        case "in_process": seconds = try StorageWorkload.run(op, namespace, prefix: prefix + "-in", n: n, objects: objects)
                        default: seconds = try await workerStorage("op=\(op.rawValue)&n=\(n)&objects=\(objects)&prefix=\(prefix)-wp")
                        }
                        ops["\(op.rawValue).\(base)", default: []].append(Double(n) / seconds)
                    }
                }
            }
            for op in StorageWorkload.Op.allCases {
                let key = "storage.\(op.rawValue).\(spread)"
                let sqlite = ops["\(op.rawValue).sqlite"]!.median
                results.set("\(key).sqlite_ops", sqlite)
                for base in ["in_process", "worker_process"] {
                    let value = ops["\(op.rawValue).\(base)"]!.median
                    results.set("\(key).\(base)_ops", value)
                    results.set("\(key).\(base)_ratio", value / sqlite)
                }
            }
        }
    }

    /// Runs a storage workload in the Worker process (through its gateway): its seconds.
    private func workerStorage(_ query: String) async throws -> Double {
        let response = try await http.execute(HTTPClientRequest(url: workerProcessGateway + "/_storage?" + query), timeout: .seconds(300))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20)).trimmingCharacters(in: .whitespacesAndNewlines)
        guard response.status == .ok else { throw BerthError(.internal, "the Worker process's storage workload failed: \(response.status.code) \(body)") }
        return Double(body) ?? 0
    }
}
