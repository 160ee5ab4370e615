import Berth
import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthServer
import Foundation
import HTTPTypes
import NIOCore
import Synchronization
import Testing

/// What the hooks of ``RecordingContainer`` saw, per test.
final class HookLog: Sendable {
    static let shared = HookLog()
    private let events = Mutex<[String: [String]]>([:])
    func record(_ object: String, _ event: String) { events.withLock { $0[object, default: []].append(event) } }
    func events(_ object: String) -> [String] { events.withLock { $0[object] ?? [] } }
}

/// Container classes that write every hook call to ``HookLog``.
protocol RecordsHooks: Container {
    var context: ContainerContext { get }
}

extension RecordsHooks {
    var key: String { context.id.name ?? context.id.hex }
    func onStart() async { HookLog.shared.record(key, "start") }
    func onStop(exitCode: Int, reason: StopReason) async { HookLog.shared.record(key, "stop:\(exitCode):\(reason.rawValue)") }
    func onError(_ error: BerthError) async { HookLog.shared.record(key, "error") }
    func onActivityExpired() async -> Bool {
        HookLog.shared.record(key, "expired")
        // The "keep" object refuses to stop once, then agrees.
        return !(key.hasSuffix("keep") && HookLog.shared.events(key).filter { $0 == "expired" }.count == 1)
    }
}

/// A Container class written in Swift: class properties and every hook, idle after 1 s.
struct RecordingContainer: RecordsHooks {
    static let defaultPort: Int? = 8080
    static let sleepAfter: Duration = .seconds(1)
    static let envVars = ["MESSAGE": "set by the Swift class"]
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }
}

/// The same hooks with the default sleepAfter, so a crash is never mistaken for idleness.
struct LongLivedRecordingContainer: RecordsHooks {
    static let defaultPort: Int? = 8080
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }
}

/// A Container class with the default sleepAfter, for tests that look at running containers.
struct PlainContainer: Container {
    static let defaultPort: Int? = 8080
    static let envVars = ["MESSAGE": "set by the Swift class"]
    init(context: ContainerContext) {}
}

/// The template's Worker, in Swift.
struct TemplateWorker: Worker {
    func fetch(_ request: Berth.Request, env: Env) async throws -> Berth.Response {
        let path = request.pathname
        if path.hasPrefix("/container") {
            let id = env["MY_CONTAINER"].idFromName(path)
            return await env["MY_CONTAINER"].get(id).fetch(request)
        }
        if path.hasPrefix("/lb") { return await getRandom(env["MY_CONTAINER"], 3).fetch(request) }
        if path.hasPrefix("/singleton") { return await getContainer(env["MY_CONTAINER"]).fetch(request) }
        if path.hasPrefix("/port") { return await getContainer(env["MY_CONTAINER"]).fetch(switchPort(request, 9999)) }
        if path.hasPrefix("/id") {
            do {
                _ = try env["MY_CONTAINER"].idFromString(request.query("hex") ?? "")
                return .text("ok\n")
            } catch {
                return .text(error.message + "\n", status: .badRequest)
            }
        }
        if path.hasPrefix("/typo") { return await env["MY_CONTAINR"].getByName("x").fetch(request) }
        if path.hasPrefix("/state") {
            return .text("\(await env["MY_CONTAINER"].getByName(request.query("name") ?? "").getState())\n")
        }
        return .text("Worker says hi\n")
    }
}

@Suite("The Swift SDK on the real engine", .enabled(if: Engine.enabled, "no Docker engine here; `make test` starts one"))
struct SDKTests {
    @Test("a Swift Worker routes with idFromName, getRandom, getContainer and switchPort")
    func worker() async throws {
        try await GatewayFixture.with(worker: TemplateWorker(), containerTypes: ["MyContainer": PlainContainer.self]) { f in
            let own = try await f.request("/")
            #expect(own.body == "Worker says hi\n")
            // A binding the deployment does not have is the Worker's error, not a crash.
            let typo = try await f.request("/typo")
            #expect(typo.status == 500)
            #expect(typo.body.contains("MY_CONTAINR") && typo.body.contains("bindings: MY_CONTAINER"), "\(typo.body)")
            let one = try await f.request("/container/1")
            #expect(one.status == 200)
            #expect(one.body.contains("\"set by the Swift class\""))
            #expect(try await f.request("/state?name=/container/1").body == "healthy\n")
            let lb = try await f.request("/lb")
            #expect(lb.status == 200)
            let objects = try await f.engineContainers().compactMap { $0.labels["berth.object-name"] }
            #expect(objects.contains("/container/1"))
            #expect(objects.contains { $0.hasPrefix("instance-") })
            #expect(try await f.request("/singleton").status == 200)
            #expect(try await f.engineContainers().contains { $0.labels["berth.object-name"] == "cf-singleton-container" })
            let port = try await f.request("/port")
            #expect(port.status == 400)
            #expect(port.body.contains("port 9999"))
            let badID = try await f.request("/id?hex=nothex")
            #expect(badID.status == 400)
            #expect(badID.body.contains("64 hexadecimal characters"))
            #expect(try await f.request("/state?name=never-used").body == "stopped\n")
        }
    }

    @Test("hooks run: onStart, onActivityExpired (which may keep it running), then onStop")
    func hooks() async throws {
        try await GatewayFixture.with(worker: TemplateWorker(), containerTypes: ["MyContainer": RecordingContainer.self]) { f in
            let first = try await f.request("/container/hooks-keep")
            #expect(first.status == 200)
            // sleepAfter is 1 s: the first expiry is refused, the second stops it.
            #expect(try await f.eventually(within: 15) { HookLog.shared.events("/container/hooks-keep").contains { $0.hasPrefix("stop:") } })
            let kept = HookLog.shared.events("/container/hooks-keep")
            #expect(kept.first == "start")
            #expect(kept.filter { $0 == "expired" }.count == 2)
            #expect(kept.last?.hasSuffix(":runtime_signal") == true)
        }
    }

    @Test("a crash calls onStop with the exit code and reason exit, then onError")
    func crashHooks() async throws {
        try await GatewayFixture.with(worker: TemplateWorker(), containerTypes: ["MyContainer": LongLivedRecordingContainer.self]) { f in
            let first = try await f.request("/container/hooks-crash")
            #expect(first.status == 200)
            let stub = f.myContainer.getByName("/container/hooks-crash")
            // The object's name is the whole path, so this is another object, whose server exits.
            let crashed = try await f.request("/container/hooks-crash/error")
            #expect(crashed.status == 502)
            #expect(try await f.eventually(within: 30) { HookLog.shared.events("/container/hooks-crash/error").contains("stop:1:exit") })
            #expect(try await f.eventually(within: 30) { HookLog.shared.events("/container/hooks-crash/error").contains("error") })
            #expect(HookLog.shared.events("/container/hooks-crash/error").first == "start")
            // The crash was another object's: this one did not crash (it may have gone idle).
            #expect(await stub.status.exitCode == nil)
        }
    }
}
