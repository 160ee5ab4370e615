import BerthCore
import Foundation
import SQLiteNIO

/// Which instance events state.sqlite keeps: every event younger than `maxAge`, and of older
/// ones the last `perObject` of each object; never more than `maxEvents` in all (the oldest
/// go first). An instance that no longer runs goes with its last event.
public struct EventRetention: Sendable, Equatable {
    public var perObject: Int
    public var maxAge: Duration
    public var maxEvents: Int

    public init(perObject: Int = 100, maxAge: Duration = .seconds(86_400), maxEvents: Int = 1_000_000) {
        self.perObject = perObject
        self.maxAge = maxAge
        self.maxEvents = maxEvents
    }
}

extension StateStore {
    /// Deletes the events `retention` does not keep, then the instances left without events
    /// that no longer run. Returns how many events it deleted.
    @discardableResult
    public func prune(_ retention: EventRetention, now: Date = Date()) async throws(BerthError) -> Int {
        let cutoff = SQLiteData.float(now.timeIntervalSince1970 - Double(retention.maxAge.components.seconds))
        let before = try await count("events")
        try await run("BEGIN")
        do {
            // A start lasts seconds: an instance still "starting" after maxAge never started
            // (an earlier version recorded starts before refusing them). It goes whole.
            let stale = "SELECT instance_id FROM instances WHERE state = 'starting' AND updated_at < ?1"
            try await run("DELETE FROM events WHERE instance_id IN (\(stale))", [cutoff])
            try await run("DELETE FROM instances WHERE instance_id IN (\(stale))", [cutoff])
            try await run(
                """
                DELETE FROM events WHERE at < ?1 AND id IN (
                    SELECT id FROM (
                        SELECT id, ROW_NUMBER() OVER (PARTITION BY class_name, object_id ORDER BY id DESC) AS newer FROM events
                    ) WHERE newer > ?2
                )
                """,
                [cutoff, .integer(retention.perObject)]
            )
            try await run(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                [.integer(retention.maxEvents)]
            )
            try await run(
                """
                DELETE FROM instances WHERE state IN ('stopped', 'stopped_with_code', 'failed')
                    AND NOT EXISTS (SELECT 1 FROM events WHERE events.instance_id = instances.instance_id)
                """
            )
            try await run("COMMIT")
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
        return before - (try await count("events"))
    }

    /// Rows in the events and instances tables now.
    public func rowCounts() async throws(BerthError) -> (instances: Int, events: Int) {
        (try await count("instances"), try await count("events"))
    }

    private func count(_ table: String) async throws(BerthError) -> Int {
        try await run("SELECT COUNT(*) AS n FROM \(table)").first?.column("n")?.integer ?? 0
    }
}
