import Berth
import BerthAPI
import BerthConfig
import BerthControlPlane
import BerthCore
import BerthRuntime
import BerthStorage
import BerthTestSupport
import Foundation
import Logging
import Synchronization

/// A project folder for the in-process tier: a wrangler.jsonc like the example's and a
/// Dockerfile that EXPOSEs 8080 (the in-memory engine reads it). Removed by ``remove()``.
struct MemoryProject {
    let app: String
    let folder: String
    /// The label every container of the project's server carries.
    let serverID: String

    init(berth: String = "{}", maxInstances: Int = 5) throws {
        app = "mem-" + UUID().uuidString.lowercased().prefix(8)
        folder = NSTemporaryDirectory() + "berth-\(app)"
        serverID = Hex.random(bytes: 8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeDockerfile(label: "v1")
        try exampleConfiguration(app: app, maxInstances: maxInstances, berth: berth)
            .write(toFile: folder + "/wrangler.jsonc", atomically: true, encoding: .utf8)
    }

    /// A Dockerfile whose content changes with `label`, so that a build gives another fingerprint.
    func writeDockerfile(label: String) throws {
        try "FROM scratch\nLABEL version=\(label)\nEXPOSE 8080\nCMD [\"/server\"]\n".write(toFile: folder + "/Dockerfile", atomically: true, encoding: .utf8)
    }

    /// The state folder beside the project's configuration (`.berth`).
    var state: StateDirectory { StateDirectory(folder: folder) }

    func config() throws -> ProjectConfig {
        try ConfigLoader.load(folder: folder).get()
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// One server's control plane, in process, on an in-memory engine: the state store in the
/// project's folder, the class registry, the deployer and what it serves. Open a second one
/// on the same project and engine to play a restart.
final class ControlPlane: Sendable {
    let project: MemoryProject
    let engine: MemoryEngine
    let store: StateStore
    let registry: ClassRegistry
    let deployer: Deployer
    let events: InstanceEventHub
    let telemetry: Telemetry
    /// Writes instance events to `store`, when asked for (`recordEvents`).
    let recording: Task<Void, Never>?
    private let served: Served

    /// What the deployer last handed the gateway.
    final class Served: Sendable {
        let platform = Mutex<Platform?>(nil)
    }

    /// A project, an engine and a control plane on them for `body`; all closed and removed after.
    static func with(
        berth: String = "{}", maxInstances: Int = 5, containerTypes: [String: any Container.Type] = [:], recordEvents: Bool = false,
        _ body: (ControlPlane) async throws -> Void
    ) async throws {
        let project = try MemoryProject(berth: berth, maxInstances: maxInstances)
        defer { project.remove() }
        let engine = MemoryEngine()
        defer { engine.shutdown() }
        let plane = try await open(project, engine: engine, containerTypes: containerTypes, recordEvents: recordEvents)
        do {
            try await body(plane)
        } catch {
            await plane.close()
            throw error
        }
        await plane.close()
    }

    /// A server's life before a `kill -9` (`before`), then the next server's on the same
    /// project and engine (`after`, which calls `restore()` itself), with what `before` returned.
    static func withRestart<T: Sendable>(
        containerTypes: [String: any Container.Type] = [:],
        before: (ControlPlane) async throws -> T, after: (ControlPlane, T) async throws -> Void
    ) async throws {
        let project = try MemoryProject()
        defer { project.remove() }
        let engine = MemoryEngine()
        defer { engine.shutdown() }
        let first = try await open(project, engine: engine, containerTypes: containerTypes)
        let kept: T
        do {
            kept = try await before(first)
        } catch {
            await first.close()
            throw error
        }
        await first.abandon()
        let second = try await open(project, engine: engine, containerTypes: containerTypes)
        do {
            try await after(second, kept)
        } catch {
            await second.close()
            throw error
        }
        await second.close()
    }

    static func open(
        _ project: MemoryProject, engine: MemoryEngine, containerTypes: [String: any Container.Type] = [:], recordEvents: Bool = false
    ) async throws -> ControlPlane {
        var logger = Logger(label: "berth.test")
        logger.logLevel = .critical
        let store = try await StateStore.open(path: project.folder + "/state.sqlite", logger: logger)
        let telemetry = Telemetry()
        let recorder = recordEvents ? StateRecorder(store: store, logger: logger) : nil
        let recording = recorder.map { recorder in Task { _ = try? await recorder.run() } }
        let events = InstanceEventHub(recorder: recorder, telemetry: telemetry)
        // Alarms retry within milliseconds here (2 s, 4 s … on a server).
        let registry = ClassRegistry(
            runtime: engine, logger: logger, observer: events, telemetry: telemetry, containerTypes: containerTypes,
            ownerLabels: ["berth.server": project.serverID],
            objects: ObjectStorageRoot(folder: project.state.objectsPath),
            alarms: AlarmScheduler(folder: project.state.objectsPath, retryBase: .milliseconds(20), unavailableDelay: .milliseconds(20), logger: logger)
        )
        try await registry.startAlarms()
        let served = Served()
        let deployer = Deployer(
            registry: registry, store: store, engine: engine, ownerLabel: "berth.server=\(project.serverID)", logger: logger,
            secrets: SecretStore(state: project.state),
            serve: { platform in served.platform.withLock { $0 = platform } }
        )
        return ControlPlane(
            project: project, engine: engine, store: store, registry: registry, deployer: deployer, events: events, telemetry: telemetry,
            recording: recording, served: served
        )
    }

    private init(
        project: MemoryProject, engine: MemoryEngine, store: StateStore, registry: ClassRegistry, deployer: Deployer, events: InstanceEventHub,
        telemetry: Telemetry, recording: Task<Void, Never>?, served: Served
    ) {
        self.project = project
        self.engine = engine
        self.store = store
        self.registry = registry
        self.deployer = deployer
        self.events = events
        self.telemetry = telemetry
        self.recording = recording
        self.served = served
    }

    /// The platform the gateway would serve now.
    var platform: Platform? { served.platform.withLock { $0 } }

    /// Builds the project's images through the driver and deploys them.
    @discardableResult
    func deploy(rollout: RolloutMode = .immediate, configure: (inout ProjectConfig) -> Void = { _ in }) async throws -> Deployment {
        var config = try project.config()
        configure(&config)
        let id = Deployment.newID()
        let images = try await ImageBuilder(images: engine).buildAll(config, version: id)
        return try await deployer.deploy(Deployment(id: id, config: config, images: images, rollout: rollout, source: "deploy"))
    }

    /// A request to the object `name` of `MY_CONTAINER`, as the Worker sends it: status and body.
    func request(_ name: String, path: String = "/") async throws -> (status: Int, body: String) {
        guard let platform else { throw BerthError(.unavailable, "nothing is deployed") }
        let response = await platform.env["MY_CONTAINER"].getByName(name).fetch(Request(path: path))
        return (response.status.code, try await response.body.text())
    }

    /// The instance id that answered a request to `name`.
    func instance(answering name: String) async throws -> String {
        let (status, body) = try await request(name)
        guard status == 200, let data = body.data(using: .utf8),
              let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any], let instance = answer["instance"] as? String
        else { throw BerthError(.internal, "no instance answered: \(status) \(body)") }
        return instance
    }

    /// Waits (up to 5 s) until `condition` holds.
    func eventually(_ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BerthError(.timeout, "not within 5 s: \(what)")
    }

    /// A server process ending without stopping anything (`kill -9`): connections close,
    /// containers keep running.
    func abandon() async {
        await deployer.cancelRollout()
        await registry.alarms?.stop()
        await registry.closeConnections()
        recording?.cancel()
        await store.close()
    }

    /// A clean end: every container stopped, connections and the store closed.
    func close() async {
        await deployer.cancelRollout()
        await registry.alarms?.stop()
        await registry.shutdown()
        recording?.cancel()
        await recording?.value
        await store.close()
    }
}
