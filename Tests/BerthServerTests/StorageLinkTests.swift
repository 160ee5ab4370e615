import Berth
import BerthControlPlane
import BerthCore
import BerthServer
import BerthTestSupport
import BerthWorker
import Foundation
import Logging
import Synchronization
import Testing

/// Types whose names are the example configuration's class, for a Worker over its link.
enum LinkedStorage {
    /// Keeps what its alarm and schedules did in its own storage.
    struct MyContainer: Container {
        static let defaultPort: Int? = 8080
        static let callbacks: [String: ScheduleCallback<MyContainer>] = [
            "mark": { object, schedule in
                let note = try schedule.payload(as: String.self) ?? ""
                try object.append("marks", note)
            },
        ]
        let context: ContainerContext
        init(context: ContainerContext) { self.context = context }

        func append(_ key: String, _ entry: String) throws {
            _ = try context.storage.transaction { txn in try txn.put(key, (try txn.get(key, as: [String].self) ?? []) + [entry]) }
        }

        func alarm(_ info: AlarmInfo) async throws {
            try append("runs", "retry=\(info.retryCount)")
            let failures = try context.storage.get("failures", as: Int.self) ?? 0
            if failures > 0 {
                try context.storage.put("failures", failures - 1)
                throw BerthError(.internal, "failing on purpose")
            }
        }
    }

    /// `/count/NAME` increments NAME's counter; `/alarm/NAME?ms=&fail=` sets its alarm (failing
    /// `fail` times); `/schedule/NAME?ms=&note=`; `/get/NAME?key=` answers a stored list.
    struct StorageWorker: Worker {
        func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
            let parts = request.pathname.split(separator: "/").map(String.init)
            guard parts.count == 2 else { return .text("?\n", status: .notFound) }
            let stub = env["MY_CONTAINER"].getByName(parts[1])
            let ms = Int(request.query("ms") ?? "0") ?? 0
            switch parts[0] {
            case "count":
                let count = try stub.storage.transaction { txn in
                    let next = (try txn.get("count", as: Int.self) ?? 0) + 1
                    try txn.put("count", next)
                    return next
                }
                return .text("\(count)\n")
            case "alarm":
                try stub.storage.put("failures", Int(request.query("fail") ?? "0") ?? 0)
                try await stub.storage.setAlarm(after: .milliseconds(ms))
                let at = try await stub.storage.getAlarm()
                return .text(at == nil ? "none\n" : "set\n")
            case "schedule":
                let schedule = try await stub.schedule(after: .milliseconds(ms), "mark", payload: request.query("note") ?? "")
                return .text(schedule.id + "\n")
            case "get":
                return .text((try stub.storage.get(request.query("key") ?? "", as: [String].self) ?? []).joined(separator: ",") + "\n")
            default:
                return .text("?\n", status: .notFound)
            }
        }
    }
}

@Suite("Object storage and alarms from a Worker process", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct StorageLinkTests {
    /// `worker` in a Worker process's place (over a socket pair), its classes `LinkedStorage`'s.
    static func linked(_ body: @escaping @Sendable (GatewayFixture) async throws -> Void) async throws {
        var ends: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        let (serverEnd, workerEnd) = (ends[0], ends[1])
        let process = Task { try await WorkerProcess.serve(LinkedStorage.StorageWorker(), containers: [LinkedStorage.MyContainer.self], descriptor: workerEnd) }
        defer { process.cancel() }
        // The classes' hooks run in the process, once it is linked.
        let made = Mutex<ProcessWorker?>(nil)
        let hooks: @Sendable (String, ObjectID) -> any ContainerHooks = { className, id in
            made.withLock { $0 }?.hooks(className: className, id: id) ?? DefaultHooks()
        }
        try await GatewayFixture.with(makeWorker: { platform in
            let linked = try await ProcessWorker.connect(descriptor: serverEnd, logger: Logger(label: "berth.test"), deadline: .seconds(30))
            _ = try await linked.start(serving: platform)
            made.withLock { $0 = linked }
            return linked
        }, workerHooks: hooks, body)
    }

    @Test("the Worker process writes its objects' databases itself; the server reads the same rows; a schedule and an alarm with retries run in the process")
    func throughTheLink() async throws {
        try await Self.linked { f in
            for expected in 1...3 { #expect(try await f.request("/count/alpha").body == "\(expected)\n") }
            #expect(try await f.request("/count/beta").body == "1\n", "objects are apart")
            let registry = f.platform.registry
            let containerClass = try #require(f.platform.classes["MyContainer"])
            let alpha = containerClass.idFromName("alpha")
            let row = try registry.objects?.readOnly(className: "MyContainer", objectHex: alpha.hex, "SELECT value FROM _cf_KV WHERE key = 'count'")
            #expect(row?.rows.first?.first == .blob(Array("3".utf8)), "the server reads what the process wrote")

            #expect(try await f.request("/alarm/gamma?ms=50&fail=2").body == "set\n")
            #expect(try await f.request("/schedule/gamma?ms=20&note=early").status == 200)
            let deadline = ContinuousClock.now.advanced(by: .seconds(10))
            var runs = ""
            while ContinuousClock.now < deadline {
                runs = try await f.request("/get/gamma?key=runs").body
                if runs == "retry=0,retry=1,retry=2\n" { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(runs == "retry=0,retry=1,retry=2\n", "the alarm ran in the Worker process and was retried")
            #expect(try await f.request("/get/gamma?key=marks").body == "early\n")
            let pending = await registry.alarms?.pending ?? []
            #expect(pending.isEmpty)
            let snapshots = await containerClass.snapshots()
            #expect(!snapshots.contains { $0.objectID == containerClass.idFromName("gamma").hex && $0.isLive }, "the alarm did not start gamma's container")
        }
    }
}
