public import BerthCore
import BerthStorage
public import Foundation

/// A callback `schedule` set to run: Cloudflare's `Schedule`.
public struct Schedule: Sendable, Equatable, Codable {
    public let id: String
    /// The name of the callback, one of its class's ``Container/callbacks``.
    public let callback: String
    /// When it runs.
    public let time: Date
    /// The payload as JSON (nil: none given).
    public let payloadJSON: String?

    /// The payload, decoded.
    public func payload<T: Decodable>(as type: T.Type = T.self) throws(BerthError) -> T? {
        guard let payloadJSON else { return nil }
        do { return try JSONDecoder().decode(type, from: Data(payloadJSON.utf8)) } catch {
            throw BerthError(.invalidInput, "the payload of schedule \(id) is not a \(type): \(error)")
        }
    }
}

/// A schedule's callback: `static let callbacks = ["poll": { object, schedule in try await object.poll(schedule) }]`.
public typealias ScheduleCallback<C> = @Sendable (C, Schedule) async throws -> Void

/// One object's schedules: one-shot callbacks stored in its storage (`_cf_schedules`) and
/// driven by its alarm, as the Container class's `schedule` is on Cloudflare.
struct ObjectSchedules {
    let link: any ObjectLink

    static let table = """
        CREATE TABLE IF NOT EXISTS _cf_schedules (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
            callback TEXT NOT NULL, payload TEXT, at REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS _cf_schedules_at ON _cf_schedules (at, seq)
        """

    func schedule(at time: Date, _ callback: String, payloadJSON: String?) async throws(BerthError) -> Schedule {
        if let known = link.scheduleCallbacks, !known.contains(callback) {
            throw BerthError(
                .invalidInput,
                "schedule: the class has no callback named \(callback) (its callbacks: \(known.isEmpty ? "none" : known.sorted().joined(separator: ", "))); add it to the class's static callbacks"
            )
        }
        // As stored (seconds since 1970), so that what comes back equals what was returned.
        let time = Date(timeIntervalSince1970: time.timeIntervalSince1970)
        let schedule = Schedule(id: UUID().uuidString.lowercased(), callback: callback, time: time, payloadJSON: payloadJSON)
        let storage = try link.storage()
        _ = try storage.execInternal(Self.table)
        _ = try storage.execInternal(
            "INSERT INTO _cf_schedules (id, callback, payload, at) VALUES (?, ?, ?, ?)",
            [.text(schedule.id), .text(callback), payloadJSON.map { .text($0) } ?? .null, .real(time.timeIntervalSince1970)]
        )
        try await ObjectAlarm(link: link).sync()
        return schedule
    }

    func get(_ id: String) throws(BerthError) -> Schedule? {
        try rows("WHERE id = ?", [.text(id)]).first
    }

    /// In the order they run (by time, then as scheduled).
    func list(callback: String?, from: Date?, to: Date?) throws(BerthError) -> [Schedule] {
        var conditions: [String] = []
        var bindings: [SQLValue] = []
        if let callback { conditions.append("callback = ?"); bindings.append(.text(callback)) }
        if let from { conditions.append("at >= ?"); bindings.append(.real(from.timeIntervalSince1970)) }
        if let to { conditions.append("at <= ?"); bindings.append(.real(to.timeIntervalSince1970)) }
        return try rows(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), bindings)
    }

    /// Deletes the schedules with `id`, or of `callback`, or all; returns how many.
    func delete(id: String?, callback: String?) async throws(BerthError) -> Int {
        guard try ObjectAlarm(link: link).read("SELECT 1 FROM _cf_schedules LIMIT 1") != nil else { return 0 }
        var sql = "DELETE FROM _cf_schedules"
        var bindings: [SQLValue] = []
        if let id { sql += " WHERE id = ?"; bindings.append(.text(id)) } else if let callback { sql += " WHERE callback = ?"; bindings.append(.text(callback)) }
        let deleted = try link.storage().execInternal(sql, bindings).rowsWritten
        try await ObjectAlarm(link: link).sync()
        return deleted
    }

    /// When the earliest schedule runs.
    func next() throws(BerthError) -> Date? {
        try rows("", [], limit: 1).first?.time
    }

    /// Those due by `now`, in order.
    func due(by now: Date) throws(BerthError) -> [Schedule] {
        try rows("WHERE at <= ?", [.real(now.timeIntervalSince1970)])
    }

    func remove(_ id: String) throws(BerthError) {
        _ = try link.storage().execInternal("DELETE FROM _cf_schedules WHERE id = ?", [.text(id)])
    }

    private func rows(_ clause: String, _ bindings: [SQLValue], limit: Int? = nil) throws(BerthError) -> [Schedule] {
        let sql = "SELECT id, callback, payload, at FROM _cf_schedules \(clause) ORDER BY at, seq" + (limit.map { " LIMIT \($0)" } ?? "")
        guard let cursor = try ObjectAlarm(link: link).read(sql, bindings) else { return [] }
        return cursor.rows.compactMap { row in
            guard let id = row[0].text, let callback = row[1].text, let at = row[3].real else { return nil }
            return Schedule(id: id, callback: callback, time: Date(timeIntervalSince1970: at), payloadJSON: row[2].text)
        }
    }
}
