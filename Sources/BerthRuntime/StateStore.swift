import BerthCore
import Foundation
import Logging
import SQLiteNIO

/// Berth's durable state in one SQLite file (`.berth/state.sqlite`): deployments, the
/// instances it has run, their events, and small settings. Writes are transactions of
/// SQLite's own (write-ahead log), so a `kill -9` loses at most the write in progress.
///
/// Nothing on a warm request touches it: instances are written when they start and stop.
public actor StateStore {
    let connection: SQLiteConnection
    public nonisolated let path: String
    /// The schema versions the store had when opened and has now (the same when no migration ran).
    public internal(set) var schemaUpgrade = SchemaUpgrade(from: 0, to: 0)

    init(connection: SQLiteConnection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens (creating if needed) the store at `path`, bringing its tables up to date.
    public static func open(path: String, logger: Logger = Logger(label: "berth.state")) async throws(BerthError) -> StateStore {
        let store: StateStore
        do {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            store = StateStore(connection: connection, path: path)
        } catch {
            throw BerthError(.internal, "cannot open the state store \(path): \(error)", cause: error)
        }
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// How every connection to the store is set up, before any migration.
    static let connectionSettings = ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"]

    /// Brings the schema up to date (see StateStore+Schema.swift).
    func migrate() async throws(BerthError) {
        // A store of a newer schema is refused before anything is written to it.
        try Self.refuseNewer(try await version(), known: Self.schemaVersion, path: path)
        for statement in Self.connectionSettings { try await run(statement) }
        try await migrate(Self.migrations)
    }

    @discardableResult
    func run(_ sql: String, _ binds: [SQLiteData] = []) async throws(BerthError) -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch {
            throw BerthError(.internal, "the state store \(path) failed: \(error)", cause: error)
        }
    }

    public func close() async {
        try? await connection.close()
    }

    // MARK: Settings

    public func meta(_ key: String) async throws(BerthError) -> String? {
        try await run("SELECT value FROM meta WHERE key = ?", [.text(key)]).first?.column("value")?.string
    }

    public func setMeta(_ key: String, _ value: String) async throws(BerthError) {
        try await run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [.text(key), .text(value)])
    }

    // MARK: Deployments

    /// A deployment as stored: its body is the JSON its owner encoded.
    public struct DeploymentRow: Sendable {
        public var id: String
        public var app: String
        public var createdAt: Date
        public var body: String
        public var rollout: String
    }

    public func insertDeployment(id: String, app: String, createdAt: Date, body: String) async throws(BerthError) {
        try await run(
            "INSERT INTO deployments (id, app, created_at, body) VALUES (?, ?, ?, ?)",
            [.text(id), .text(app), .float(createdAt.timeIntervalSince1970), .text(body)]
        )
    }

    public func updateRollout(id: String, rollout: String) async throws(BerthError) {
        try await run("UPDATE deployments SET rollout = ? WHERE id = ?", [.text(rollout), .text(id)])
    }

    /// Every deployment, newest first.
    public func deployments() async throws(BerthError) -> [DeploymentRow] {
        try await run("SELECT id, app, created_at, body, rollout FROM deployments ORDER BY created_at DESC, rowid DESC").map {
            DeploymentRow(
                id: $0.column("id")?.string ?? "", app: $0.column("app")?.string ?? "",
                createdAt: Date(timeIntervalSince1970: $0.column("created_at")?.double ?? 0),
                body: $0.column("body")?.string ?? "{}", rollout: $0.column("rollout")?.string ?? "{}"
            )
        }
    }

    // MARK: Container classes

    /// A container class as the last deployment (or deletion) left it.
    public struct ClassRow: Sendable, Equatable {
        public var className: String
        public var containerName: String
        public var deploymentID: String
        public var image: String
        public var fingerprint: String
        /// When what its instances run last changed.
        public var modifiedAt: Date
        /// Why requests fail, when it was deleted.
        public var deleted: String?

        public init(className: String, containerName: String, deploymentID: String, image: String, fingerprint: String, modifiedAt: Date, deleted: String? = nil) {
            self.className = className
            self.containerName = containerName
            self.deploymentID = deploymentID
            self.image = image
            self.fingerprint = fingerprint
            self.modifiedAt = modifiedAt
            self.deleted = deleted
        }
    }

    public func saveClass(_ row: ClassRow) async throws(BerthError) {
        try await run(
            """
            INSERT INTO classes (class_name, container_name, deployment_id, image, fingerprint, modified_at, deleted)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(class_name) DO UPDATE SET container_name = excluded.container_name, deployment_id = excluded.deployment_id,
                image = excluded.image, fingerprint = excluded.fingerprint, modified_at = excluded.modified_at, deleted = excluded.deleted
            """,
            [
                .text(row.className), .text(row.containerName), .text(row.deploymentID), .text(row.image), .text(row.fingerprint),
                .float(row.modifiedAt.timeIntervalSince1970), row.deleted.map { .text($0) } ?? .null,
            ]
        )
    }

    public func classes() async throws(BerthError) -> [ClassRow] {
        try await run("SELECT * FROM classes ORDER BY class_name").map {
            ClassRow(
                className: $0.column("class_name")?.string ?? "", containerName: $0.column("container_name")?.string ?? "",
                deploymentID: $0.column("deployment_id")?.string ?? "", image: $0.column("image")?.string ?? "",
                fingerprint: $0.column("fingerprint")?.string ?? "",
                modifiedAt: Date(timeIntervalSince1970: $0.column("modified_at")?.double ?? 0), deleted: $0.column("deleted")?.string
            )
        }
    }

    // MARK: Instances and events

    /// An instance as the store last saw it.
    public struct InstanceRow: Sendable, Codable, Equatable {
        public var instanceID: String
        public var className: String
        public var objectID: String
        public var objectName: String?
        public var containerID: String?
        public var deploymentID: String
        public var state: String
        public var exitCode: Int?
        public var createdAt: Date
        public var updatedAt: Date
        public var coldStartMs: Int?
        public var message: String?

        enum CodingKeys: String, CodingKey {
            case instanceID = "instance_id", className = "class_name", objectID = "object_id", objectName = "object_name"
            case containerID = "container_id", deploymentID = "deployment_id", state, exitCode = "exit_code"
            case createdAt = "created_at", updatedAt = "updated_at", coldStartMs = "cold_start_ms", message
        }
    }

    /// Records an event and the instance's new state.
    public func record(_ record: InstanceRecord, _ event: InstanceEvent) async throws(BerthError) {
        let at = SQLiteData.float(record.at.timeIntervalSince1970)
        var exitCode = SQLiteData.null
        var coldStart = SQLiteData.null
        var detail = SQLiteData.null
        let state: String
        switch event {
        case .starting: state = "starting"
        case .healthy(let duration):
            state = "healthy"
            let ms = Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
            coldStart = .integer(ms)
            detail = .text("cold start \(ms) ms")
        case .adopted: state = "healthy"
        case .stopped(let code, let reason):
            state = reason == .exit && code != 0 ? "stopped_with_code" : "stopped"
            exitCode = .integer(code)
            detail = .text("exit code \(code), \(reason.rawValue)")
        case .failed(let message):
            state = "failed"
            detail = .text(message)
        }
        let optional: (String?) -> SQLiteData = { $0.map { .text($0) } ?? .null }
        try await run("BEGIN")
        do {
            try await run(
                """
                INSERT INTO instances (instance_id, class_name, object_id, object_name, container_id, deployment_id, state, exit_code,
                                       created_at, updated_at, cold_start_ms, message)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(instance_id) DO UPDATE SET
                    container_id = COALESCE(excluded.container_id, container_id), state = excluded.state,
                    exit_code = COALESCE(excluded.exit_code, exit_code), updated_at = excluded.updated_at,
                    cold_start_ms = COALESCE(excluded.cold_start_ms, cold_start_ms), message = COALESCE(excluded.message, message)
                """,
                [
                    .text(record.instanceID), .text(record.className), .text(record.objectID), optional(record.objectName),
                    optional(record.containerID), .text(record.deploymentID), .text(state), exitCode, at, at, coldStart,
                    event.kind == "failed" ? detail : .null,
                ]
            )
            try await run(
                "INSERT INTO events (at, class_name, object_id, instance_id, kind, detail) VALUES (?, ?, ?, ?, ?, ?)",
                [at, .text(record.className), .text(record.objectID), .text(record.instanceID), .text(event.kind), detail]
            )
            try await run("COMMIT")
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
    }

    /// Instances, newest first; `className` narrows to one class, `instanceID` to one
    /// instance (or those whose id starts with it).
    public func instances(className: String? = nil, instanceID: String? = nil, limit: Int = 200) async throws(BerthError) -> [InstanceRow] {
        let rows = try await run(
            """
            SELECT * FROM instances WHERE (?1 IS NULL OR class_name = ?1) AND (?3 IS NULL OR instance_id LIKE ?3 || '%')
            ORDER BY created_at DESC LIMIT ?2
            """,
            [className.map { .text($0) } ?? .null, .integer(limit), instanceID.map { .text($0) } ?? .null]
        )
        return rows.map { row in
            InstanceRow(
                instanceID: row.column("instance_id")?.string ?? "", className: row.column("class_name")?.string ?? "",
                objectID: row.column("object_id")?.string ?? "", objectName: row.column("object_name")?.string,
                containerID: row.column("container_id")?.string, deploymentID: row.column("deployment_id")?.string ?? "",
                state: row.column("state")?.string ?? "", exitCode: row.column("exit_code")?.integer,
                createdAt: Date(timeIntervalSince1970: row.column("created_at")?.double ?? 0),
                updatedAt: Date(timeIntervalSince1970: row.column("updated_at")?.double ?? 0),
                coldStartMs: row.column("cold_start_ms")?.integer, message: row.column("message")?.string
            )
        }
    }

    /// One event of an instance's history.
    public struct EventRow: Sendable, Codable, Equatable {
        public var at: Date
        public var instanceID: String
        public var kind: String
        public var detail: String?
        enum CodingKeys: String, CodingKey {
            case at, instanceID = "instance_id", kind, detail
        }
    }

    /// The events of an instance, oldest first.
    public func events(instanceID: String) async throws(BerthError) -> [EventRow] {
        try await run("SELECT at, instance_id, kind, detail FROM events WHERE instance_id = ? ORDER BY id", [.text(instanceID)]).map {
            EventRow(
                at: Date(timeIntervalSince1970: $0.column("at")?.double ?? 0), instanceID: $0.column("instance_id")?.string ?? "",
                kind: $0.column("kind")?.string ?? "", detail: $0.column("detail")?.string
            )
        }
    }
}
