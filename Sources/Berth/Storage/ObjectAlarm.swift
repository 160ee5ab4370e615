import BerthCore
import BerthStorage
import Foundation

/// A change to an object's alarm as the platform keeps it (the time it fires).
package enum AlarmChange: Sendable, Equatable {
    /// When it fires.
    case get
    case set(Date)
    case delete
}

/// The object's one alarm, shared by the two things that want it: the time its code set
/// (``DurableObjectStorage/setAlarm(_:)``) and its earliest schedule. Both are kept in the
/// object's own storage; the platform is told the earlier of the two, and when it fires,
/// whichever is due runs. So, unlike on Cloudflare, a schedule never takes the alarm the
/// object's code set, nor the other way round.
struct ObjectAlarm {
    let link: any ObjectLink

    /// The alarm the object's code set.
    func userAlarm() throws(BerthError) -> Date? {
        guard let row = try read("SELECT at FROM _cf_alarm WHERE id = 1")?.rows.first, let at = row[0].real else { return nil }
        return Date(timeIntervalSince1970: at)
    }

    func setUserAlarm(_ time: Date?) async throws(BerthError) {
        let storage = try link.storage()
        if let time {
            _ = try storage.execInternal(Self.alarmTable)
            _ = try storage.execInternal("INSERT INTO _cf_alarm (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at", [.real(time.timeIntervalSince1970)])
        } else if try read("SELECT at FROM _cf_alarm") != nil {
            _ = try storage.execInternal("DELETE FROM _cf_alarm")
        }
        try await sync()
    }

    /// Tells the platform the earlier of the object's alarm and its next schedule, or that
    /// there is none.
    func sync() async throws(BerthError) {
        let next = [try userAlarm(), try ObjectSchedules(link: link).next()].compactMap { $0 }.min()
        _ = try await link.alarm(next.map { .set($0) } ?? .delete)
    }

    /// Runs `sql` on the object's Berth tables; nil when the object never wrote or has no
    /// such table yet (nothing is made).
    func read(_ sql: String, _ bindings: [SQLValue] = []) throws(BerthError) -> SQLCursor? {
        let storage = try link.storage()
        guard storage.exists else { return nil }
        do {
            return try storage.execInternal(sql, bindings)
        } catch {
            if error.message.contains("no such table") { return nil }
            throw error
        }
    }

    static let alarmTable = "CREATE TABLE IF NOT EXISTS _cf_alarm (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL)"
}
