import BerthCore
import Foundation
import SQLiteNIO

/// The state store's schema is versioned by SQLite's `user_version` (a number in the file's
/// header): it is written in the same transaction as the change it stands for, read before any
/// table exists, copied by every backup, and shown by any SQLite tool. A store of version 0 was
/// written before versioning (or is new); each migration moves it one version on.
public struct SchemaUpgrade: Sendable, Equatable, CustomStringConvertible {
    public var from: Int
    public var to: Int

    public init(from: Int, to: Int) {
        self.from = from
        self.to = to
    }

    public var migrated: Bool { from != to }
    public var description: String { migrated ? "schema version \(from) → \(to)" : "schema version \(to)" }
}

extension StateStore {
    /// One step of the schema: run once, in order, in a transaction of its own that also
    /// records `version`.
    struct Migration: Sendable {
        var version: Int
        var statements: [String]
    }

    /// The schema this build writes: the version of its last migration.
    public static var schemaVersion: Int { migrations.last?.version ?? 0 }

    /// Every migration, oldest first. Append new ones; never change one that shipped.
    static let migrations: [Migration] = [
        // 1: the tables as Berth wrote them before the schema was versioned. `IF NOT EXISTS`,
        // so that a store of that time (version 0, its tables there) is only stamped.
        Migration(version: 1, statements: [
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS deployments (
                id TEXT PRIMARY KEY, app TEXT NOT NULL, created_at REAL NOT NULL,
                body TEXT NOT NULL, rollout TEXT NOT NULL DEFAULT '{}'
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS instances (
                instance_id TEXT PRIMARY KEY, class_name TEXT NOT NULL, object_id TEXT NOT NULL, object_name TEXT,
                container_id TEXT, deployment_id TEXT NOT NULL, state TEXT NOT NULL, exit_code INTEGER,
                created_at REAL NOT NULL, updated_at REAL NOT NULL, cold_start_ms INTEGER, message TEXT
            )
            """,
            "CREATE INDEX IF NOT EXISTS instances_by_object ON instances (class_name, object_id)",
            """
            CREATE TABLE IF NOT EXISTS events (
                id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, class_name TEXT NOT NULL, object_id TEXT NOT NULL,
                instance_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT
            )
            """,
            "CREATE INDEX IF NOT EXISTS events_by_instance ON events (instance_id)",
            // The retention rule counts each object's events from its newest.
            "CREATE INDEX IF NOT EXISTS events_by_object ON events (class_name, object_id, id)",
            """
            CREATE TABLE IF NOT EXISTS classes (
                class_name TEXT PRIMARY KEY, container_name TEXT NOT NULL, deployment_id TEXT NOT NULL, image TEXT NOT NULL,
                fingerprint TEXT NOT NULL, modified_at REAL NOT NULL, deleted TEXT
            )
            """,
        ]),
    ]

    /// Runs the migrations the store has not had, in order, each in a transaction with the new
    /// version; refuses a store of a newer version than the last of `migrations` (written by a
    /// newer Berth: going on would downgrade it silently).
    func migrate(_ migrations: [Migration]) async throws(BerthError) {
        let known = migrations.last?.version ?? 0
        let found = try await version()
        schemaUpgrade = SchemaUpgrade(from: found, to: found)
        try Self.refuseNewer(found, known: known, path: path)
        for migration in migrations where migration.version > found {
            // IMMEDIATE: the write lock first, then the version read again, so that two
            // processes opening one store at once run each migration once.
            try await run("BEGIN IMMEDIATE")
            do {
                let now = try await version()
                try Self.refuseNewer(now, known: known, path: path)
                if now < migration.version {
                    for statement in migration.statements { try await run(statement) }
                    try await run("PRAGMA user_version = \(migration.version)")
                }
                try await run("COMMIT")
            } catch {
                try? await run("ROLLBACK")
                let left = (try? await version()).map(String.init) ?? "?"
                throw BerthError(
                    error.code, "migrating the state store \(path) to schema version \(migration.version) failed, so it was left at version \(left): \(error.message)",
                    cause: error
                )
            }
            schemaUpgrade.to = migration.version
        }
    }

    /// The store's schema version (`PRAGMA user_version`).
    func version() async throws(BerthError) -> Int {
        try await run("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
    }

    static func refuseNewer(_ found: Int, known: Int, path: String) throws(BerthError) {
        guard found > known else { return }
        throw BerthError(
            .conflict,
            "the state store \(path) has schema version \(found), newer than this Berth knows (version \(known)): a newer Berth wrote it. Run that Berth (or a newer one), or restore a backup made for this version; Berth never downgrades a state store"
        )
    }
}
