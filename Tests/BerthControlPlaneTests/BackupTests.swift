import BerthAPI
@testable import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthTestSupport
import Foundation
import Synchronization
import Testing

/// `berth backup`'s copy (``StateStore/backup(from:to:overwrite:)``) taken while a server
/// writes instance events, and a server restored from it.
@Suite("Backups of the state store")
struct BackupTests {
    final class Flag: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    /// What `record` leaves as an instance's state after an event of each kind.
    static let stateAfter: [String: Set<String>] = [
        "starting": ["starting"], "healthy": ["healthy"], "adopted": ["healthy"], "stopped": ["stopped", "stopped_with_code"], "failed": ["failed"],
    ]

    @Test("a backup under write load is whole and consistent, and a server restored from it serves the same deployments")
    func underWriteLoad() async throws {
        let project = try MemoryProject(maxInstances: 50)
        defer { project.remove() }
        let engine = MemoryEngine()
        defer { engine.shutdown() }
        let database = project.folder + "/state.sqlite"
        let copy = project.folder + "/backup.sqlite"
        let plane = try await ControlPlane.open(project, engine: engine, recordEvents: true)
        var deployments: [String] = []
        var report: BackupReport?
        var during = 0
        do {
            try await plane.deploy()
            try await plane.deploy(rollout: .none)
            deployments = await plane.deployer.history.map(\.id)
            // The load: rounds of 20 new objects started at once, then stopped, until the
            // backups are done (at most 300 rounds): every start and stop is written.
            let done = Flag()
            let load = Task {
                var round = 0
                while !done.isSet && round < 300 {
                    let names = (0..<20).map { "load-\(round)-\($0)" }
                    await withTaskGroup(of: Void.self) { group in
                        for name in names { group.addTask { _ = try? await plane.request(name) } }
                    }
                    await plane.registry["MyContainer"]?.stopAll()
                    round += 1
                }
                return round
            }
            try await plane.eventually("the load writes events") { try await plane.store.rowCounts().events > 0 }
            // Backups in a row, each replacing the last, while the load goes on: at least
            // five, and on until events were written during one (at most 200).
            var backups = 0
            while (backups < 5 || during == 0) && backups < 200 {
                let before = try await plane.store.rowCounts().events
                report = try await StateStore.backup(from: database, to: copy, overwrite: true)
                let after = try await plane.store.rowCounts().events
                during += after - before
                backups += 1
            }
            done.set()
            let rounds = await load.value
            #expect(rounds > 0)
        } catch {
            await plane.close()
            throw error
        }
        await plane.close()
        #expect(during > 0, "instance events were written while the backups ran")
        let written = try #require(report)
        #expect(written.integrity == "ok")
        #expect(written.schemaVersion == StateStore.schemaVersion)
        #expect(written.deployments == 2)
        #expect(written.events > 0)
        #expect(!FileManager.default.fileExists(atPath: copy + "-wal"), "the copy stands alone")

        // Consistent: every instance's state is the one its last event left (an event and its
        // instance's new state are one transaction).
        let check = try await StateStore.open(path: copy)
        let instances = try await check.instances(limit: 100_000)
        #expect(instances.count == written.instances)
        for instance in instances {
            let last = try #require(try await check.events(instanceID: instance.instanceID).last, "\(instance.instanceID) has no event")
            #expect(Self.stateAfter[last.kind]?.contains(instance.state) == true, "\(instance.instanceID): \(instance.state) after \(last.kind)")
        }
        await check.close()

        // Restore: the server is stopped; the copy becomes state.sqlite; the next one serves.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        try FileManager.default.copyItem(atPath: copy, toPath: database)
        let restored = try await ControlPlane.open(project, engine: engine)
        do {
            _ = try await restored.deployer.restore()
            #expect(await restored.deployer.history.map(\.id) == deployments)
            #expect(try await restored.request("after-restore").status == 200)
        } catch {
            await restored.close()
            throw error
        }
        await restored.close()
    }

    @Test("a backup refuses to replace a file unless told to, and names a missing store")
    func refusals() async throws {
        let folder = NSTemporaryDirectory() + "berth-backup-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try await StateStore.open(path: folder + "/state.sqlite")
        try await store.setMeta("server_id", "kept")
        let existing = folder + "/existing.sqlite"
        try Data("not a backup".utf8).write(to: URL(fileURLWithPath: existing))
        do {
            _ = try await StateStore.backup(from: folder + "/state.sqlite", to: existing, overwrite: false)
            Issue.record("an existing file was replaced")
        } catch {
            #expect(error.code == .conflict)
            #expect(error.message.contains(existing) && error.message.contains("--force"), "\(error.message)")
        }
        #expect(FileManager.default.contents(atPath: existing) == Data("not a backup".utf8))
        let replaced = try await StateStore.backup(from: folder + "/state.sqlite", to: existing, overwrite: true)
        #expect(replaced.integrity == "ok" && replaced.bytes > 0)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: existing)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "the copy is readable by its owner only: \(String(mode, radix: 8))")
        await store.close()
        let copy = try await StateStore.open(path: existing)
        #expect(try await copy.meta("server_id") == "kept")
        await copy.close()
        do {
            _ = try await StateStore.backup(from: folder + "/none.sqlite", to: folder + "/out.sqlite", overwrite: false)
            Issue.record("a missing store was backed up")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.message.contains(folder + "/none.sqlite"))
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/out.sqlite"))
        // Nothing half written is left beside the destination.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.contains("partial") }.isEmpty)
    }
}
