import BerthCore
import Glibc
import VaporCSQLite

/// One SQLite database, used from one thread at a time (its owner's lock): statements with
/// bindings, their rows, and how much they read and wrote.
package final class SQLiteDatabase {
    private(set) var raw: OpaquePointer?
    package let path: String
    /// Prepared statements kept for SQL run again (one statement each), by whether they ran
    /// guarded and their text: a key–value `get` or a repeated insert is not compiled anew.
    private var prepared: [CacheKey: OpaquePointer] = [:]
    private struct CacheKey: Hashable {
        let guarded: Bool
        let sql: String
    }
    /// Whether the SQL being prepared is the object's own (``run(_:_:guarded:)``).
    private let guardFlag = GuardFlag()
    /// Statements kept in fixed places (``withPrepared(_:slot:_:)``).
    private var slots: [OpaquePointer?] = []
    /// Statements kept at most.
    static let preparedLimit = 64

    /// Opens `path` (`create`: making it, in WAL mode), or read-only.
    package init(path: String, create: Bool, readOnly: Bool = false) throws(BerthError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? String(cString: sqlite_nio_sqlite3_errstr(status))
            sqlite_nio_sqlite3_close(handle)
            throw BerthError(.internal, "cannot open \(path): \(message)")
        }
        raw = handle
        sqlite_nio_sqlite3_busy_timeout(handle, 5_000)
        // Installed once: setting an authorizer expires every prepared statement, so a run
        // of the object's own SQL only raises the flag it reads.
        sqlite_nio_sqlite3_set_authorizer(handle, refuseBerthTables, Unmanaged.passUnretained(guardFlag).toOpaque())
        if !readOnly && path != ":memory:" {
            _ = try run("PRAGMA journal_mode=WAL")
            _ = try run("PRAGMA synchronous=NORMAL")
        }
    }

    /// An empty database in memory: where a read of an object that never wrote runs.
    package static func empty() throws(BerthError) -> SQLiteDatabase {
        try SQLiteDatabase(path: ":memory:", create: true)
    }

    package func close() {
        guard let open = raw else { return }
        for statement in prepared.values { sqlite_nio_sqlite3_finalize(statement) }
        for statement in slots.compactMap({ $0 }) { sqlite_nio_sqlite3_finalize(statement) }
        prepared = [:]
        slots = []
        sqlite_nio_sqlite3_close_v2(open)
        raw = nil
    }

    deinit { close() }

    private var message: String { raw.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "the database is closed" }

    /// Whether every statement of `sql` only reads (false for one that does not compile:
    /// running it says why).
    package func isReadOnly(_ sql: String) -> Bool {
        var readOnly = true
        let compiled = (try? each(sql) { statement in
            if sqlite_nio_sqlite3_stmt_readonly(statement) == 0 { readOnly = false }
            return true
        }) != nil
        return compiled && readOnly
    }

    /// Runs `body` on the kept statement of `sql` (one statement, prepared on first use),
    /// then resets it: the way Berth's own key–value operations run, with no cursor made.
    /// `slot`: a fixed place for the statement (Berth's key–value ones), found without
    /// hashing its text.
    package func withPrepared<T>(_ sql: String, slot: Int? = nil, _ body: (OpaquePointer) throws(BerthError) -> T) throws(BerthError) -> T {
        let key = CacheKey(guarded: false, sql: sql)
        let statement: OpaquePointer
        if let slot, slot < slots.count, let kept = slots[slot] {
            statement = kept
        } else if slot == nil, let kept = prepared[key] {
            statement = kept
        } else {
            var made: OpaquePointer?
            guard sqlite_nio_sqlite3_prepare_v2(raw, sql, -1, &made, nil) == SQLITE_OK, let made else {
                throw BerthError(.invalidInput, "SQL: \(message)")
            }
            if prepared.count >= Self.preparedLimit {
                for old in prepared.values { sqlite_nio_sqlite3_finalize(old) }
                prepared = [:]
            }
            if let slot {
                while slots.count <= slot { slots.append(nil) }
                if let old = slots[slot] { sqlite_nio_sqlite3_finalize(old) }
                slots[slot] = made
            } else {
                prepared[key] = made
            }
            statement = made
        }
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        return try body(statement)
    }

    /// Steps `statement` once: true for a row, false when done; the error otherwise.
    package func stepOnce(_ statement: OpaquePointer) throws(BerthError) -> Bool {
        switch sqlite_nio_sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw BerthError(.invalidInput, "SQL: \(message)")
        }
    }

    package func bindText(_ text: String, at index: Int32, in statement: OpaquePointer) {
        sqlite_nio_sqlite3_bind_text(statement, index, text, -1, SQLiteDatabase.transient)
    }

    package func bindBlob(_ bytes: [UInt8], at index: Int32, in statement: OpaquePointer) {
        bytes.withUnsafeBytes { raw in
            _ = sqlite_nio_sqlite3_bind_blob(statement, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), SQLiteDatabase.transient)
        }
    }

    /// Column `index` of the current row as bytes (a blob's, or a text's UTF-8).
    package func columnBytes(_ index: Int32, of statement: OpaquePointer) -> [UInt8] {
        let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
        guard count > 0, let bytes = sqlite_nio_sqlite3_column_blob(statement, index) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// Rows the last statement changed.
    package var changes: Int { Int(sqlite_nio_sqlite3_changes(raw)) }

    /// Whether the first statement of `sql` compiles here.
    package func firstStatementCompiles(_ sql: String) -> Bool {
        (try? each(sql) { _ in false }) != nil
    }

    /// Runs every statement of `sql`, the bindings taken in order by their parameters; the
    /// rows are the last statement's that returns any (else the last statement's columns).
    /// `guarded`: the SQL is an object's own, which may not touch Berth's tables (`_cf_…`,
    /// where its key–value pairs live), as on Cloudflare.
    package func run(_ sql: String, _ bindings: [SQLValue] = [], guarded: Bool = false) throws(BerthError) -> SQLCursor {
        guardFlag.on = guarded
        defer { guardFlag.on = false }
        do throws(BerthError) {
            let key = CacheKey(guarded: guarded, sql: sql)
            if let statement = prepared[key] {
                defer {
                    sqlite_nio_sqlite3_reset(statement)
                    sqlite_nio_sqlite3_clear_bindings(statement)
                }
                var cursor = SQLCursor(columnNames: [], rows: [], rowsRead: 0, rowsWritten: 0)
                var next = bindings[...]
                try step(statement, bindings: &next, into: &cursor)
                guard next.isEmpty else { throw BerthError(.invalidInput, "\(next.count) bindings were left over: the SQL has fewer parameters") }
                return cursor
            }
            return try runStatements(sql, bindings, keep: key)
        } catch {
            guard guarded, error.message.contains("not authorized") else { throw error }
            throw BerthError(.invalidInput, "SQL: access to tables whose names begin with _cf_ is not allowed (they hold the object's key–value storage; use get, put and list)")
        }
    }

    /// Runs the statements of `sql` one by one; when it is one statement, keeps it prepared
    /// under `keep` for the next run.
    private func runStatements(_ sql: String, _ bindings: [SQLValue], keep: CacheKey? = nil) throws(BerthError) -> SQLCursor {
        var cursor = SQLCursor(columnNames: [], rows: [], rowsRead: 0, rowsWritten: 0)
        var next = bindings[...]
        try each(sql, keep: keep) { statement throws(BerthError) in
            try step(statement, bindings: &next, into: &cursor)
            return true
        }
        guard next.isEmpty else { throw BerthError(.invalidInput, "\(next.count) bindings were left over: the SQL has fewer parameters") }
        return cursor
    }

    /// Binds a statement's parameters from `bindings`, runs it to the end, and adds what it
    /// read, wrote and returned to `cursor` (the rows are the last statement's that has any).
    private func step(_ statement: OpaquePointer, bindings next: inout ArraySlice<SQLValue>, into cursor: inout SQLCursor) throws(BerthError) {
        let parameters = Int(sqlite_nio_sqlite3_bind_parameter_count(statement))
        guard next.count >= parameters else {
            throw BerthError(.invalidInput, "the SQL statement has \(parameters) parameters and \(next.count) bindings are left for it")
        }
        for index in 0..<parameters {
            try bind(next.removeFirst(), at: Int32(index + 1), in: statement)
        }
        let columns = Int(sqlite_nio_sqlite3_column_count(statement))
        var rows: [[SQLValue]] = []
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw BerthError(.invalidInput, "SQL: \(message)") }
            rows.append((0..<columns).map { column(Int32($0), of: statement) })
        }
        let scanned = Int(sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1))
        cursor.rowsRead += rows.count + scanned
        if sqlite_nio_sqlite3_stmt_readonly(statement) == 0 { cursor.rowsWritten += Int(sqlite_nio_sqlite3_changes(raw)) }
        if !rows.isEmpty || cursor.rows.isEmpty {
            cursor.columnNames = (0..<columns).map { String(cString: sqlite_nio_sqlite3_column_name(statement, Int32($0))) }
            cursor.rows = rows
        }
    }

    /// Prepares each statement of `sql` in turn and hands it to `body`. A lone statement is
    /// kept prepared under `keep` (it is reset after use) rather than finalized.
    private func each(_ sql: String, keep: CacheKey? = nil, _ body: (OpaquePointer) throws(BerthError) -> Bool) throws(BerthError) {
        var failure: BerthError?
        sql.withCString { start in
            var rest: UnsafePointer<CChar>? = start
            var first = true
            while let current = rest, current.pointee != 0 {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                guard sqlite_nio_sqlite3_prepare_v2(raw, current, -1, &statement, &tail) == SQLITE_OK else {
                    failure = BerthError(.invalidInput, "SQL: \(message)")
                    return
                }
                rest = tail
                // Whitespace or a comment after the last statement.
                guard let statement else { continue }
                let lone = first && keep != nil && (tail.map { Self.isBlank($0) } ?? true)
                first = false
                defer {
                    if lone, let keep {
                        sqlite_nio_sqlite3_reset(statement)
                        sqlite_nio_sqlite3_clear_bindings(statement)
                        if prepared.count >= Self.preparedLimit {
                            for old in prepared.values { sqlite_nio_sqlite3_finalize(old) }
                            prepared = [:]
                        }
                        prepared[keep] = statement
                    } else {
                        sqlite_nio_sqlite3_finalize(statement)
                    }
                }
                do {
                    guard try body(statement) else { return }
                } catch {
                    failure = BerthError.wrap(error)
                    return
                }
            }
        }
        if let failure { throw failure }
    }

    /// Whether the rest of the SQL is only whitespace (after a statement's `;`).
    private static func isBlank(_ text: UnsafePointer<CChar>) -> Bool {
        var cursor = text
        while cursor.pointee != 0 {
            if !(cursor.pointee == 32 || (cursor.pointee >= 9 && cursor.pointee <= 13)) { return false }
            cursor += 1
        }
        return true
    }

    private func bind(_ value: SQLValue, at index: Int32, in statement: OpaquePointer) throws(BerthError) {
        let status: Int32
        switch value {
        case .null: status = sqlite_nio_sqlite3_bind_null(statement, index)
        case .integer(let number): status = sqlite_nio_sqlite3_bind_int64(statement, index, number)
        case .real(let number): status = sqlite_nio_sqlite3_bind_double(statement, index, number)
        case .text(let text): status = sqlite_nio_sqlite3_bind_text(statement, index, text, -1, SQLiteDatabase.transient)
        case .blob(let bytes):
            status = bytes.withUnsafeBytes { raw in
                sqlite_nio_sqlite3_bind_blob(statement, index, raw.baseAddress, Int32(raw.count), SQLiteDatabase.transient)
            }
        }
        guard status == SQLITE_OK else { throw BerthError(.invalidInput, "SQL binding \(index): \(message)") }
    }

    private func column(_ index: Int32, of statement: OpaquePointer) -> SQLValue {
        switch sqlite_nio_sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: return .integer(sqlite_nio_sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: return .real(sqlite_nio_sqlite3_column_double(statement, index))
        case SQLITE_TEXT: return .text(String(cString: sqlite_nio_sqlite3_column_text(statement, index)))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            guard count > 0, let bytes = sqlite_nio_sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default: return .null
        }
    }

    /// SQLite copies the bound bytes (`SQLITE_TRANSIENT`).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// The authorizer of an object's own SQL: any table (or index, trigger, view) whose name
/// begins with `_cf_` is refused.
final class GuardFlag {
    var on = false
}

private func refuseBerthTables(
    _ data: UnsafeMutableRawPointer?, _ action: Int32, _ first: UnsafePointer<CChar>?, _ second: UnsafePointer<CChar>?,
    _ database: UnsafePointer<CChar>?, _ trigger: UnsafePointer<CChar>?
) -> Int32 {
    guard let data, Unmanaged<GuardFlag>.fromOpaque(data).takeUnretainedValue().on else { return SQLITE_OK }
    for name in [first, second] {
        guard let name else { continue }
        if strncasecmp(name, "_cf_", 4) == 0 { return SQLITE_DENY }
    }
    return SQLITE_OK
}
