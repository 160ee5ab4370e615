import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import BerthStorage
import BerthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Operators' view of objects' storage through the admin API (in process, on the in-memory
/// driver): read-only SQL, the alarm and schedules, and what `containers delete` and a
/// `deleted_classes` migration remove.
@Suite("Admin API: object storage")
struct AdminStorageTests {
    func withAdmin(_ body: @escaping @Sendable (ControlPlane, any TestClientProtocol) async throws -> Void) async throws {
        try await ControlPlane.with(containerTypes: ObjectStorageAPITests.types) { plane in
            let info = ServerInfo(
                serverID: plane.project.serverID, gatewayURL: "http://127.0.0.1:1", adminURL: "http://127.0.0.1:2",
                stateDirectory: plane.project.folder, pid: 1, startedAt: Date()
            )
            let api = AdminAPI(deployer: plane.deployer, events: plane.events, telemetry: plane.telemetry, info: info)
            try await Application(router: api.router(token: AdminAPITests.token)).test(.router) { client in try await body(plane, client) }
        }
    }

    static func sql(_ query: String) -> ByteBuffer {
        ByteBuffer(data: try! AdminJSON.encoder.encode(StorageQuery(query: query)))
    }

    @Test("the storage view shows pairs, tables, the alarm and schedules; SQL runs read-only; the token is needed")
    func readOnly() async throws {
        try await withAdmin { plane, client in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("inspected")
            try stub.storage.put("owner", "ada")
            try stub.storage.sql.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO jobs (name) VALUES ('build'), ('test')")
            let wake = try await stub.schedule(after: .seconds(60), "note", payload: "later")
            try await stub.storage.setAlarm(after: .seconds(120))
            let base = "/api/containers/MyContainer/objects/inspected"
            try await client.execute(uri: base + "/storage", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: base + "/storage", method: .get, headers: AdminAPITests.authorized) { response in
                #expect(response.status == .ok)
                let view = try AdminAPITests.decode(ObjectStorageView.self, response)
                #expect(view.exists && view.objectID == stub.id.hex && view.sizeBytes > 0)
                #expect(view.keys == [ObjectStorageView.KeyView(key: "owner", value: "\"ada\"", bytes: 5)])
                #expect(view.tables == [ObjectStorageView.TableView(name: "jobs", rows: 2)])
                #expect(view.schedules.map(\.id) == [wake.id] && view.schedules.first?.payload == "\"later\"")
                #expect(view.alarm.map { abs($0.timeIntervalSince(wake.time)) < 1.01 } == true, "the platform fires at the schedule, the earlier")
                #expect(view.objectAlarm != nil)
            }
            try await client.execute(uri: base + "/sql", method: .post, headers: AdminAPITests.authorized, body: Self.sql("SELECT name FROM jobs ORDER BY id")) { response in
                #expect(response.status == .ok)
                let result = try AdminAPITests.decode(StorageQueryResult.self, response)
                #expect(result.columns == ["name"] && result.rows == [[StorageCell(.text("build"))], [StorageCell(.text("test"))]])
            }
            for write in ["DELETE FROM jobs", "DROP TABLE jobs", "INSERT INTO _cf_KV (key, value) VALUES ('x', x'00')"] {
                try await client.execute(uri: base + "/sql", method: .post, headers: AdminAPITests.authorized, body: Self.sql(write)) { response in
                    #expect(response.status == .badRequest, "\(write)")
                    #expect(String(buffer: response.body).contains("readonly"), "\(write): \(String(buffer: response.body))")
                }
            }
            #expect(try stub.storage.sql.exec("SELECT count(*) FROM jobs").rows == [[.integer(2)]], "nothing was written")
            // An object that never wrote: no storage, and the query makes none.
            try await client.execute(uri: "/api/containers/MyContainer/objects/never/sql", method: .post, headers: AdminAPITests.authorized, body: Self.sql("SELECT 1")) { response in
                #expect(response.status == .notFound)
            }
            let never = try #require(plane.registry["MyContainer"]).idFromName("never")
            #expect(!FileManager.default.fileExists(atPath: plane.project.state.objectsPath + "/MyContainer/\(never.hex).sqlite"))
        }
    }

    @Test("containers delete keeps the storage (the next deploy finds it); --purge removes databases and alarms and says how many")
    func deleteAndPurge() async throws {
        try await withAdmin { plane, client in
            try await plane.deploy()
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("kept")
            try stub.storage.put("n", 41)
            try await stub.storage.setAlarm(after: .seconds(600))
            try await client.execute(uri: "/api/containers/MyContainer", method: .delete, headers: AdminAPITests.authorized) { #expect($0.status == .ok) }
            try await plane.deploy()
            let again = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("kept")
            #expect(try again.storage.get("n", as: Int.self) == 41, "delete without --purge kept it")
            try await client.execute(uri: "/api/containers/MyContainer?purge=true", method: .delete, headers: AdminAPITests.authorized) { response in
                #expect(response.status == .ok)
                let answer = try AdminAPITests.decode([String: String].self, response)
                #expect(answer["purged_objects"] == "1" && answer["purged_alarms"] == "1", "\(answer)")
            }
            #expect(!FileManager.default.fileExists(atPath: plane.project.state.objectsPath + "/MyContainer"))
            let pending = await plane.registry.alarms?.pending ?? []
            #expect(pending.isEmpty)
        }
    }

    @Test("a deleted_classes migration removes that class's storage and alarms on deploy; other classes keep theirs")
    func deletedClassesMigration() async throws {
        try await withAdmin { plane, _ in
            try await plane.deploy()
            let root = try #require(plane.registry.objects)
            let gone = ObjectID.fromName("x", className: "OldClass", app: plane.project.app)
            try root.storage(className: "OldClass", objectHex: gone.hex).put("k", [1])
            try await plane.registry.alarms?.set(AlarmScheduler.Key(className: "OldClass", objectHex: gone.hex), at: Date().addingTimeInterval(600))
            let stub = try #require(plane.platform?.env)["MY_CONTAINER"].getByName("stays")
            try stub.storage.put("k", 1)
            try await plane.deploy { $0.deletedClasses = ["OldClass"] }
            #expect(!FileManager.default.fileExists(atPath: plane.project.state.objectsPath + "/OldClass"))
            let pending = await plane.registry.alarms?.pending ?? []
            #expect(pending.isEmpty)
            #expect(try stub.storage.get("k", as: Int.self) == 1)
        }
    }
}
