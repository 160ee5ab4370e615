@testable import BerthRuntime
import BerthCore
import Foundation
import Testing

/// The state store's schema versions: migrations in order, each in a transaction, a store of
/// before versioning (a fixture written by that code) brought up to date, a newer one refused.
@Suite("State store schema versions and migrations")
struct StateStoreSchemaTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/state-v0/state.sqlite").path

    func temporaryPath() -> String {
        NSTemporaryDirectory() + "berth-schema-\(UUID().uuidString).sqlite"
    }

    func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test("a store written before versioning (the v0 fixture) is migrated, keeping its rows; opening it again migrates nothing")
    func fixtureMigrates() async throws {
        let path = temporaryPath()
        defer { remove(path) }
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
        let store = try await StateStore.open(path: path)
        #expect(await store.schemaUpgrade == SchemaUpgrade(from: 0, to: StateStore.schemaVersion))
        #expect(try await store.version() == StateStore.schemaVersion)
        let deployments = try await store.deployments()
        #expect(deployments.count == 1)
        #expect(try await store.meta("server_id") != nil)
        #expect(try await store.classes().map(\.className) == ["MyContainer"])
        #expect(try await store.instances().count == 2)
        await store.close()

        let again = try await StateStore.open(path: path)
        #expect(await again.schemaUpgrade == SchemaUpgrade(from: StateStore.schemaVersion, to: StateStore.schemaVersion))
        #expect(try await again.deployments().map(\.id) == deployments.map(\.id))
        await again.close()
    }

    @Test("a new store is created at the current version")
    func newStore() async throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try await StateStore.open(path: path)
        #expect(await store.schemaUpgrade == SchemaUpgrade(from: 0, to: StateStore.schemaVersion))
        #expect(try await store.version() == StateStore.schemaVersion)
        await store.close()
    }

    @Test("migrations run in order, each in its own transaction: a failing one leaves the store at the version before it")
    func chain() async throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try await StateStore.open(path: path)
        let base = StateStore.migrations
        let v2 = StateStore.Migration(version: base.count + 1, statements: ["CREATE TABLE two (a TEXT)", "INSERT INTO two VALUES ('x')"])
        let broken = StateStore.Migration(version: base.count + 2, statements: ["CREATE TABLE three (a TEXT)", "INSERT INTO nowhere VALUES (1)"])
        do {
            try await store.migrate(base + [v2, broken])
            Issue.record("a failing migration succeeded")
        } catch {
            #expect(error.message.contains(path))
            #expect(error.message.contains("schema version \(base.count + 2) failed"), "\(error.message)")
            #expect(error.message.contains("left at version \(base.count + 1)"), "\(error.message)")
        }
        #expect(try await store.version() == base.count + 1)
        #expect(try await store.run("SELECT a FROM two").count == 1)
        #expect(try await store.run("SELECT name FROM sqlite_master WHERE name = 'three'").isEmpty, "the failed migration's first statement was rolled back")

        let fixed = StateStore.Migration(version: base.count + 2, statements: ["CREATE TABLE three (a TEXT)"])
        try await store.migrate(base + [v2, fixed])
        #expect(await store.schemaUpgrade == SchemaUpgrade(from: base.count + 1, to: base.count + 2))
        // Run again: nothing to do, the rows of the second migration not inserted twice.
        try await store.migrate(base + [v2, fixed])
        #expect(await store.schemaUpgrade == SchemaUpgrade(from: base.count + 2, to: base.count + 2))
        #expect(try await store.run("SELECT a FROM two").count == 1)
        await store.close()
    }

    @Test("a store of a newer schema is refused, naming the file and both versions, and left as it was")
    func newerRefused() async throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try await StateStore.open(path: path)
        let newer = StateStore.schemaVersion + 1
        try await store.run("PRAGMA user_version = \(newer)")
        await store.close()
        do {
            let opened = try await StateStore.open(path: path)
            await opened.close()
            Issue.record("a newer store was opened")
        } catch {
            #expect(error.code == .conflict)
            #expect(error.message.contains(path))
            #expect(error.message.contains("schema version \(newer)"), "\(error.message)")
            #expect(error.message.contains("(version \(StateStore.schemaVersion))"), "\(error.message)")
        }
        // Still the newer version: nothing was downgraded.
        // (`user_version` is the big-endian number at offset 60 of the file's header.)
        let header = try #require(FileManager.default.contents(atPath: path)?.prefix(64))
        #expect(header.suffix(4).reduce(0) { $0 << 8 | Int($1) } == newer)
    }
}
