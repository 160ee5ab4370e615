import Berth
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthStorage
import BerthTestSupport
import Foundation
import Synchronization
import Testing

/// What the storage classes below saw, by test (each test uses object names of its own).
final class StorageLog: Sendable {
    let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
    func count(_ prefix: String) -> Int { all.filter { $0.hasPrefix(prefix) }.count }
}

/// A Swift container class that keeps its state in its storage and uses its alarm and
/// schedules. `alarm` throws while the object's `failures` key is above zero.
struct StoringContainer: Container {
    static let log = StorageLog()
    static let defaultPort: Int? = 8080
    static let callbacks: [String: ScheduleCallback<StoringContainer>] = [
        "note": { object, schedule in
            let text = try schedule.payload(as: String.self) ?? "-"
            log.append("\(object.name) note \(text)")
        },
        "flaky": { object, schedule in
            let left = try object.context.storage.get("flaky", as: Int.self) ?? 0
            log.append("\(object.name) flaky \(left)")
            if left > 0 {
                try object.context.storage.put("flaky", left - 1)
                throw BerthError(.internal, "flaky: \(left) failures left")
            }
        },
    ]
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }
    var name: String { context.id.name ?? context.id.hex }

    func alarm(_ info: AlarmInfo) async throws {
        Self.log.append("\(name) alarm retry=\(info.retryCount)")
        let failures = try context.storage.get("failures", as: Int.self) ?? 0
        if failures > 0 {
            try context.storage.put("failures", failures - 1)
            throw BerthError(.internal, "alarm failed on purpose (\(failures) left)")
        }
    }
}

@Suite("Durable Object storage, alarms and schedules, in process")
struct ObjectStorageAPITests {
    static let types: [String: any Container.Type] = ["MyContainer": StoringContainer.self]

    @Test("a stub's storage and the class's context.storage are one database; objects never see each other's; nothing starts a container")
    func storageFromWorkerAndClass() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let env = try #require(plane.platform?.env)
            let stub = env["MY_CONTAINER"].getByName("shared-a")
            struct Owner: Codable, Equatable { var user: String; var quota: Int }
            try stub.storage.put("owner", Owner(user: "ada", quota: 3))
            #expect(try stub.storage.get("owner", as: Owner.self) == Owner(user: "ada", quota: 3))
            // The class's own view of the object.
            let containerClass = try #require(plane.registry["MyContainer"])
            let viaContext = try containerClass.storage(of: stub.id)
            #expect(try viaContext.get("owner") == Array(#"{"quota":3,"user":"ada"}"#.utf8) || viaContext.get("owner") == Array(#"{"user":"ada","quota":3}"#.utf8))
            #expect(try env["MY_CONTAINER"].getByName("shared-b").storage.get("owner", as: Owner.self) == nil, "another object sees nothing")
            try stub.storage.sql.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, progress REAL)")
            try stub.storage.sql.exec("INSERT INTO jobs (progress) VALUES (?), (?)", 0.5, 1.0)
            #expect(try stub.storage.sql.exec("SELECT count(*) AS n FROM jobs").one()["n"] == .integer(2))
            #expect(throws: BerthError.self) { try env["MY_CONTAINER"].getByName("shared-b").storage.sql.exec("SELECT * FROM jobs") }
            #expect(try stub.storage.list(StorageListOptions(prefix: "o"), as: Owner.self).map(\.key) == ["owner"])
            #expect(plane.engine.containers.isEmpty, "storage starts no container")
            // It outlives the object's container, stopped or destroyed.
            #expect(await stub.fetch(Request(path: "/")).status.code == 200)
            await stub.destroy()
            #expect(try stub.storage.get("owner", as: Owner.self) == Owner(user: "ada", quota: 3), "destroy() keeps the storage")
            let path = plane.project.state.objectsPath + "/MyContainer/\(stub.id.hex).sqlite"
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(!FileManager.default.fileExists(atPath: plane.project.state.objectsPath + "/MyContainer/\(env["MY_CONTAINER"].getByName("shared-b").id.hex).sqlite"), "a read made nothing")
        }
    }

    @Test("values round-trip as JSON, on the quick paths (Int, Bool, plain String) and through the coder alike")
    func valuesAsJSON() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("values")
            let storage = stub.storage
            let texts = ["plain", "", "with \"quotes\" and \\ and /slash/", "line\nbreak\ttab", "ünïcödé 🚀", "\u{01}control"]
            for (i, text) in texts.enumerated() { try storage.put("t\(i)", text) }
            try storage.put("int", -42)
            try storage.put("max", Int.max)
            try storage.put("flag", true)
            try storage.put("real", 1.5)
            for (i, text) in texts.enumerated() { #expect(try storage.get("t\(i)", as: String.self) == text) }
            #expect(try storage.get("int", as: Int.self) == -42)
            #expect(try storage.get("max", as: Int.self) == Int.max)
            #expect(try storage.get("flag", as: Bool.self) == true)
            #expect(try storage.get("real", as: Double.self) == 1.5)
            #expect(try storage.get("int", as: Double.self) == -42, "JSON numbers read as either")
            #expect(throws: BerthError.self) { try storage.get("t0", as: Int.self) }
            // Every stored value is JSON that Foundation reads back as the same value.
            let database = try #require(plane.registry["MyContainer"]).storage(of: stub.id)
            for (i, text) in texts.enumerated() {
                let bytes = try #require(try database.get("t\(i)"))
                #expect(try JSONDecoder().decode(String.self, from: Data(bytes)) == text)
            }
        }
    }

    @Test("a transaction that throws leaves nothing behind, key–value pairs and SQL alike")
    func transactionRollback() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let storage = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("txn").storage
            try storage.sql.exec("CREATE TABLE audit (line TEXT)")
            try storage.put("balance", 100)
            struct Refused: Error {}
            #expect(throws: Refused.self) {
                try storage.transaction { txn in
                    try txn.put("balance", 0)
                    try txn.sql.exec("INSERT INTO audit (line) VALUES (?)", "withdrew 100")
                    throw Refused()
                }
            }
            #expect(try storage.get("balance", as: Int.self) == 100)
            #expect(try storage.sql.exec("SELECT count(*) FROM audit").rows == [[.integer(0)]])
            let next = try storage.transaction { txn in
                let balance = try txn.get("balance", as: Int.self) ?? 0
                try txn.put("balance", balance - 30)
                return balance - 30
            }
            #expect(next == 70)
            #expect(try storage.get("balance", as: Int.self) == 70)
        }
    }

    @Test("many objects writing at once each keep their own count")
    func manyObjectsAtOnce() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let namespace = try #require(plane.platform?.env)["MY_CONTAINER"]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for object in 0..<20 {
                    for _ in 0..<3 {
                        group.addTask {
                            let storage = namespace.getByName("many-\(object)").storage
                            for _ in 0..<10 {
                                _ = try storage.transaction { txn in try txn.put("n", (try txn.get("n", as: Int.self) ?? 0) + 1) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            for object in 0..<20 {
                #expect(try namespace.getByName("many-\(object)").storage.get("n", as: Int.self) == 30)
            }
        }
    }

    @Test("an alarm runs once, on the object and not its container; getAlarm is nil after it ran")
    func alarmRunsOnce() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("alarm-once")
            let due = Date().addingTimeInterval(0.1)
            try await stub.storage.setAlarm(due)
            let set = try #require(try await stub.storage.getAlarm())
            #expect(abs(set.timeIntervalSince(due)) < 0.001)
            try await plane.eventually("the alarm ran") { StoringContainer.log.count("alarm-once alarm") == 1 }
            try await plane.eventually("the alarm is gone") {
                let pending = await plane.registry.alarms?.pending ?? []
                return try await stub.storage.getAlarm() == nil && pending.isEmpty
            }
            try await Task.sleep(for: .milliseconds(150))
            #expect(StoringContainer.log.count("alarm-once alarm") == 1, "once per alarm")
            #expect(plane.engine.containers.isEmpty, "the alarm woke the object, not its container")
            try await stub.storage.setAlarm(after: .seconds(60))
            try await stub.storage.deleteAlarm()
            #expect(try await stub.storage.getAlarm() == nil)
            let pending = await plane.registry.alarms?.pending ?? []
            #expect(pending.isEmpty)
        }
    }

    @Test("an alarm that throws is retried with its retry count, then given up after 6 retries")
    func alarmRetries() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let namespace = try #require(plane.platform?.env)["MY_CONTAINER"]
            let recovering = namespace.getByName("retry-ok")
            try recovering.storage.put("failures", 2)
            try await recovering.storage.setAlarm(Date())
            try await plane.eventually("it ran three times") { StoringContainer.log.count("retry-ok alarm") == 3 }
            #expect(StoringContainer.log.all.filter { $0.hasPrefix("retry-ok") } == ["retry-ok alarm retry=0", "retry-ok alarm retry=1", "retry-ok alarm retry=2"])
            let hopeless = namespace.getByName("retry-never")
            try hopeless.storage.put("failures", 100)
            try await hopeless.storage.setAlarm(Date())
            try await plane.eventually("it was given up") {
                let pending = await plane.registry.alarms?.pending ?? []
                return StoringContainer.log.count("retry-never alarm") == 7 && pending.isEmpty
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(StoringContainer.log.count("retry-never alarm") == 7, "the first run and 6 retries")
            #expect(try hopeless.storage.get("failures", as: Int.self) == 93)
            #expect(try await hopeless.storage.getAlarm() == nil)
        }
    }

    @Test("schedules run in time order (ties as scheduled), each once; list, get and delete; an unknown callback is refused")
    func scheduleOrder() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("order")
            // Far enough ahead that nothing runs before the listing below, even on a busy machine.
            let start = Date().addingTimeInterval(1.5)
            try await stub.schedule(at: start.addingTimeInterval(0.2), "note", payload: "third")
            let first = try await stub.schedule(at: start, "note", payload: "first")
            try await stub.schedule(at: start.addingTimeInterval(0.1), "note", payload: "second-a")
            try await stub.schedule(at: start.addingTimeInterval(0.1), "note", payload: "second-b")
            let dropped = try await stub.schedule(at: start.addingTimeInterval(0.1), "note", payload: "deleted")
            #expect(try stub.listSchedules().map { try $0.payload(as: String.self) } == ["first", "second-a", "second-b", "deleted", "third"])
            #expect(try stub.getSchedule(first.id) == first)
            #expect(try await stub.deleteSchedules(id: dropped.id) == 1)
            #expect(try stub.listSchedules(from: start.addingTimeInterval(0.05), to: start.addingTimeInterval(0.15)).count == 2)
            await #expect(throws: BerthError.self) { try await stub.schedule(after: .seconds(1), "missing") }
            try await plane.eventually("every schedule ran") { StoringContainer.log.count("order note") == 4 }
            #expect(StoringContainer.log.all.filter { $0.hasPrefix("order") } == ["order note first", "order note second-a", "order note second-b", "order note third"])
            #expect(try stub.listSchedules().isEmpty)
            #expect(StoringContainer.log.count("order alarm") == 0, "the object's own alarm() runs only for the time it set")
            let pending = await plane.registry.alarms?.pending ?? []
            #expect(pending.isEmpty)
        }
    }

    @Test("a schedule and the object's own alarm share the alarm without taking it from each other; a failing callback is retried alone")
    func scheduleAndAlarm() async throws {
        try await ControlPlane.with(containerTypes: Self.types) { plane in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("mixed")
            let own = Date().addingTimeInterval(0.4)
            try await stub.storage.setAlarm(own)
            try stub.storage.put("flaky", 1)
            let due = Date().addingTimeInterval(0.1)
            try await stub.schedule(at: due, "flaky")
            try await stub.schedule(at: due, "note", payload: "beside")
            let kept = try #require(try await stub.storage.getAlarm())
            #expect(abs(kept.timeIntervalSince(own)) < 0.001, "the schedule did not move the object's alarm")
            try await plane.eventually("both ran") { StoringContainer.log.count("mixed alarm") == 1 && StoringContainer.log.count("mixed flaky 0") == 1 }
            // Under load the own alarm may come due in the same run as a retry: the order of the
            // runs is what holds, not the moments.
            let mixed = StoringContainer.log.all.filter { $0.hasPrefix("mixed") }
            #expect(mixed.count == 4, "\(mixed)")
            #expect(mixed.first == "mixed flaky 1" && mixed.firstIndex(of: "mixed note beside") == 1, "the failing callback did not hold back the one beside it: \(mixed)")
            #expect(mixed.filter { $0.hasPrefix("mixed alarm") }.count == 1 && mixed.contains("mixed flaky 0"), "\(mixed)")
        }
    }

    @Test("an alarm due while the server was down runs once the next one starts")
    func alarmAcrossRestart() async throws {
        try await ControlPlane.withRestart(containerTypes: Self.types) { first in
            try await first.deploy()
            let stub = try #require(first.platform?.env)["MY_CONTAINER"].getByName("restart-alarm")
            // Due once this server is gone (it is, well before 1.5 s), while none runs.
            try await stub.storage.setAlarm(after: .milliseconds(1500))
            try await stub.schedule(after: .milliseconds(1500), "note", payload: "after restart")
            return stub.id
        } after: { (second: ControlPlane, id: ObjectID) in
            try await Task.sleep(for: .milliseconds(1700))
            #expect(StoringContainer.log.count("restart-alarm") == 0, "nothing ran while no server was up")
            _ = try await second.deployer.restore()
            try await second.eventually("the alarm and the schedule ran after the restart") {
                StoringContainer.log.count("restart-alarm alarm") == 1 && StoringContainer.log.count("restart-alarm note after restart") == 1
            }
            let storage = try #require(second.registry["MyContainer"]).storage(of: id)
            #expect(try storage.execInternal("SELECT count(*) FROM _cf_schedules").rows == [[.integer(0)]])
        }
    }

    @Test("a forgotten object's database closes; the name coming back reopens it with its data")
    func forgetAndReopen() async throws {
        try await ControlPlane.with(berth: #"{"limits": {"max_objects": 1}}"#, containerTypes: Self.types) { plane in
            try await plane.deploy()
            let namespace = try #require(plane.platform?.env)["MY_CONTAINER"]
            try namespace.getByName("forget-me").storage.put("kept", "yes")
            let root = try #require(plane.registry.objects)
            #expect(root.openCount == 1)
            // A second object over max_objects makes the class forget the first.
            #expect(try namespace.getByName("other").storage.get("x", as: Int.self) == nil)
            #expect(root.openCount == 0, "its database closed with it")
            #expect(try namespace.getByName("forget-me").storage.get("kept", as: String.self) == "yes")
            #expect(root.openCount == 1)
        }
    }
}
