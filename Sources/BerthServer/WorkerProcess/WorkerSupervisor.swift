import Berth
import BerthAPI
import BerthControlPlane
import BerthCore
import Foundation
import Logging
import Synchronization

/// Runs the Swift Workers of a server's deployments, each in a process of its own. A
/// deployment's Worker starts, and is ready, before the deployment is served
/// (``prepare(_:app:secrets:)``); once it is served (``serving(_:)``), the Worker served
/// before drains: its requests in flight finish (within `drainGrace`), then it stops.
/// Containers are not touched by any of it.
public final class WorkerSupervisor: WorkerRunner, Sendable {
    let state: StateDirectory
    let logger: Logger
    let say: @Sendable (String) -> Void
    /// How long a retired Worker's requests in flight may take to finish.
    let drainGrace: Duration

    private struct Slots {
        var current: SupervisedWorker?
        var prepared: [String: SupervisedWorker] = [:]
        /// Workers served before, draining.
        var retiring: [SupervisedWorker] = []
    }

    private let slots = Mutex(Slots())

    public init(state: StateDirectory, logger: Logger, drainGrace: Duration = .seconds(30), say: @escaping @Sendable (String) -> Void) {
        self.state = state
        self.logger = logger
        self.drainGrace = drainGrace
        self.say = say
    }

    /// The executable of `build` in the state folder.
    public func executablePath(_ build: WorkerBuild) -> String {
        (state.workersPath as NSString).appendingPathComponent(build.sha256)
    }

    public func prepare(_ deployment: Deployment, app: String, secrets: [String: String]) async throws(BerthError) {
        guard let build = deployment.worker else { return }
        if slots.withLock({ $0.current?.deploymentID == deployment.id || $0.prepared[deployment.id] != nil }) { return }
        let path = executablePath(build)
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BerthError(.notFound, "the Worker executable \(build.sha256.prefix(12)) of deployment \(deployment.id) is not on this server (\(path)); deploy again, `berth deploy` uploads it")
        }
        let config = deployment.config
        var bindings: [String: String] = [:]
        for binding in config.durableObjects where binding.scriptName == nil && config.containers.contains(where: { $0.className == binding.className }) {
            bindings[binding.name] = binding.className
        }
        let hello = WireHello(
            app: app, deploymentID: deployment.id, bindings: bindings, vars: config.vars, secrets: secrets,
            responseTimeout: config.berth.limits.responseTimeout, objectsFolder: state.objectsPath
        )
        let worker = SupervisedWorker(
            deploymentID: deployment.id, path: path, hello: hello, classes: Set(build.containers.keys), logger: logger,
            deadline: config.berth.limits.responseTimeout + config.berth.instanceGetTimeout, say: say
        )
        try await worker.launch()
        // A Worker prepared for a deployment that never got served is stopped.
        let stale = slots.withLock { slots in
            defer { slots.prepared = [deployment.id: worker] }
            return Array(slots.prepared.values)
        }
        for old in stale { Task { await old.retire(grace: .zero) } }
        say("Worker \(build.product) (\(build.configuration), \(build.sha256.prefix(12))) is ready")
    }

    /// The Worker to serve `platform` with (nil when its deployment has none); the Worker
    /// served before it drains and stops.
    public func serving(_ platform: Platform) -> (any Worker)? {
        let (next, retired) = slots.withLock { slots -> (SupervisedWorker?, SupervisedWorker?) in
            if let current = slots.current, current.deploymentID == platform.deploymentID { return (current, nil) }
            let next = slots.prepared.removeValue(forKey: platform.deploymentID)
            let retired = slots.current
            slots.current = next
            if let retired { slots.retiring.append(retired) }
            return (next, retired)
        }
        next?.serve(platform)
        if let retired {
            Task {
                await retired.retire(grace: drainGrace)
                slots.withLock { $0.retiring.removeAll { $0 === retired } }
            }
        }
        return next
    }

    /// The hooks of the objects of `className`: run in the current Worker process when it
    /// declares that class, else the defaults.
    public func hooks(className: String, id: ObjectID) -> any ContainerHooks {
        ForwardedHooks(object: WireObject(className: className, id: id), runner: self)
    }

    /// Runs an object's hook in the one Worker version its code runs in: a version served
    /// before while that one still has a request of the object in flight, the current one
    /// otherwise (the object moves to it once the old one is done with it).
    func runHook(_ hook: WireHook, of object: WireObject) async -> Bool {
        guard let owner = owner(of: object) else { return true }
        return await owner.runHook(hook, of: object)
    }

    /// Runs an object's alarm in the Worker version its code runs in (``runHook(_:of:)``).
    func runAlarm(_ info: AlarmInfo, of object: WireObject) async throws(BerthError) {
        guard let owner = owner(of: object) else {
            throw BerthError(.unavailable, "no Worker process running now declares the class \(object.className)")
        }
        try await owner.runAlarm(info, of: object)
    }

    /// The Worker version that runs `object`'s code now (nil: no Worker declares its class).
    func owner(of object: WireObject) -> SupervisedWorker? {
        let (current, retiring) = slots.withLock { ($0.current, $0.retiring) }
        return Self.owner(
            of: object, current: current, retiring: retiring, declares: { $0.classes.contains(object.className) }, inFlight: { $0.hasInFlight(object) }
        )
    }

    /// The rule of ``owner(of:)``: of the versions served before (oldest first), the newest
    /// that declares the object's class and has a request of it in flight; else the current
    /// version, when it declares the class.
    static func owner<W>(
        of object: WireObject, current: W?, retiring: [W], declares: (W) -> Bool, inFlight: (W) -> Bool
    ) -> W? {
        if let old = retiring.last(where: { declares($0) && inFlight($0) }) { return old }
        guard let current, declares(current) else { return nil }
        return current
    }

    /// Stops every Worker process (the server is shutting down).
    public func shutdown() async {
        let all = slots.withLock { slots in
            defer { slots = Slots() }
            return [slots.current].compactMap { $0 } + Array(slots.prepared.values) + slots.retiring
        }
        for worker in all { await worker.retire(grace: drainGrace) }
    }
}

/// What runs an object's hooks in a Worker process: the supervisor (in the version the
/// object's code runs in) or one process.
protocol HookRunner: Sendable {
    func runHook(_ hook: WireHook, of object: WireObject) async -> Bool
    func runAlarm(_ info: AlarmInfo, of object: WireObject) async throws(BerthError)
}

extension WorkerSupervisor: HookRunner {}

/// The hooks of one object whose Container class lives in a Worker process.
struct ForwardedHooks<Runner: HookRunner>: ContainerHooks {
    let object: WireObject
    let runner: Runner

    func onStart() async { _ = await runner.runHook(.start, of: object) }
    func onStop(exitCode: Int, reason: StopReason) async { _ = await runner.runHook(.stop(exitCode: exitCode, reason: reason), of: object) }
    func onError(_ error: BerthError) async { _ = await runner.runHook(.error(error.message), of: object) }
    func onActivityExpired() async -> Bool { await runner.runHook(.activityExpired, of: object) }
    func onAlarm(_ info: AlarmInfo) async throws { try await runner.runAlarm(info, of: object) }
}
