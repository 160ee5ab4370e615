@testable import BerthRuntime
import BerthCore
import Foundation
import Testing

@Suite("State store (SQLite)")
struct StateStoreTests {
    func temporaryPath() -> String {
        NSTemporaryDirectory() + "berth-state-\(UUID().uuidString).sqlite"
    }

    func record(_ instance: String, object: String = "o1", at seconds: Double) -> InstanceRecord {
        InstanceRecord(
            className: "MyContainer", objectID: object, objectName: "/container/1", instanceID: instance, containerID: "c-\(instance)",
            deploymentID: "d1", at: Date(timeIntervalSince1970: seconds)
        )
    }

    @Test("deployments, settings, instances and events survive closing and reopening")
    func persists() async throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await StateStore.open(path: path)
        try await store.insertDeployment(id: "d1", app: "app", createdAt: Date(timeIntervalSince1970: 100), body: #"{"v":1}"#)
        try await store.insertDeployment(id: "d2", app: "app", createdAt: Date(timeIntervalSince1970: 200), body: #"{"v":2}"#)
        try await store.updateRollout(id: "d2", rollout: #"{"state":"done"}"#)
        try await store.setMeta("server_id", "abc")
        try await store.setMeta("server_id", "def")
        try await store.record(record("i1", at: 1), .starting)
        try await store.record(record("i1", at: 2), .healthy(coldStart: .milliseconds(420)))
        try await store.record(record("i1", at: 3), .stopped(exitCode: 137, reason: .exit))
        try await store.record(record("i2", at: 4), .starting)
        try await store.record(record("i2", at: 5), .failed(message: "Failed to start container: boom"))
        await store.close()

        let reopened = try await StateStore.open(path: path)
        let deployments = try await reopened.deployments()
        #expect(deployments.map(\.id) == ["d2", "d1"])
        #expect(deployments.first?.rollout == #"{"state":"done"}"#)
        #expect(deployments.last?.body == #"{"v":1}"#)
        #expect(try await reopened.meta("server_id") == "def")
        #expect(try await reopened.meta("missing") == nil)
        let instances = try await reopened.instances()
        #expect(instances.map(\.instanceID) == ["i2", "i1"])
        let first = try #require(instances.last)
        #expect(first.state == "stopped_with_code")
        #expect(first.exitCode == 137)
        #expect(first.coldStartMs == 420)
        #expect(first.containerID == "c-i1")
        #expect(instances.first?.state == "failed")
        #expect(instances.first?.message == "Failed to start container: boom")
        #expect(try await reopened.events(instanceID: "i1").map(\.kind) == ["starting", "healthy", "stopped"])
        #expect(try await reopened.instances(className: "Other").isEmpty)
        #expect(try await reopened.classes().isEmpty)
        let row = StateStore.ClassRow(
            className: "MyContainer", containerName: "web", deploymentID: "d2", image: "berth.local/app/web:d2", fingerprint: "f",
            modifiedAt: Date(timeIntervalSince1970: 200)
        )
        try await reopened.saveClass(row)
        var deleted = row
        deleted.deleted = "deleted"
        try await reopened.saveClass(deleted)
        #expect(try await reopened.classes() == [deleted])
        await reopened.close()
    }

    @Test("retention: every event of the last day, the last N of each object before, at most maxEvents; instances go with their events")
    func retention() async throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try await StateStore.open(path: path)
        let day = 86_400.0, now = 10 * day
        // o1: five instances two days ago, three events each, and one today.
        for n in 0..<5 {
            let at = now - 2 * day + Double(n * 10)
            try await store.record(record("old\(n)", object: "o1", at: at), .starting)
            try await store.record(record("old\(n)", object: "o1", at: at + 1), .healthy(coldStart: .milliseconds(5)))
            try await store.record(record("old\(n)", object: "o1", at: at + 2), .stopped(exitCode: 0, reason: .runtimeSignal))
        }
        try await store.record(record("today", object: "o1", at: now - 60), .starting)
        try await store.record(record("today", object: "o1", at: now - 59), .healthy(coldStart: .milliseconds(5)))
        // o2: old, but fewer events than N.
        try await store.record(record("lone", object: "o2", at: now - 3 * day), .starting)
        try await store.record(record("lone", object: "o2", at: now - 3 * day + 1), .stopped(exitCode: 0, reason: .runtimeSignal))
        // o3: a start an earlier version recorded and then refused: still "starting".
        try await store.record(record("refused", object: "o3", at: now - 2 * day), .starting)
        #expect(try await store.rowCounts() == (instances: 8, events: 20))

        let rule = EventRetention(perObject: 4, maxAge: .seconds(86_400))
        #expect(try await store.prune(rule, now: Date(timeIntervalSince1970: now)) == 14)
        #expect(try await store.rowCounts() == (instances: 3, events: 6))
        #expect(try await store.events(instanceID: "today").map(\.kind) == ["starting", "healthy"])
        #expect(try await store.events(instanceID: "old4").map(\.kind) == ["healthy", "stopped"])
        #expect(try await store.events(instanceID: "lone").map(\.kind) == ["starting", "stopped"])
        #expect(Set(try await store.instances().map(\.instanceID)) == ["today", "old4", "lone"])
        // Pruning again changes nothing.
        #expect(try await store.prune(rule, now: Date(timeIntervalSince1970: now)) == 0)

        // At most maxEvents, the oldest written first; an instance that runs keeps its row.
        var capped = rule
        capped.maxEvents = 3
        #expect(try await store.prune(capped, now: Date(timeIntervalSince1970: now)) == 3)
        #expect(try await store.events(instanceID: "today").map(\.kind) == ["healthy"])
        #expect(Set(try await store.instances().map(\.instanceID)) == ["today", "lone"])
        await store.close()
    }

    @Test("an unwritable path is a clear error naming it")
    func unwritable() async throws {
        do {
            _ = try await StateStore.open(path: "/proc/berth-cannot-write-here/state.sqlite")
            Issue.record("opening succeeded")
        } catch {
            #expect(error.message.contains("/proc/berth-cannot-write-here/state.sqlite"))
        }
    }
}
