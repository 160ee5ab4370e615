import AsyncHTTPClient
import BerthConfig
import BerthCore
import BerthStorage
import Foundation
import Logging
import Synchronization

/// The Durable Object namespace of one container class: ids, and at most one live
/// ``ContainerController`` per id. Lookups take one of several small locks chosen by the id,
/// so objects do not contend on one lock; each controller then serialises only its own state.
///
/// Objects that hold nothing are forgotten (see `ContainerClass+Forgetting.swift`), so the
/// memory a class keeps does not grow with the number of names its clients send.
///
/// A class outlives deployments: a new deployment replaces its ``ClassSpec`` (new instances
/// use it at once) while its objects, and their running containers, stay.
public final class ContainerClass: Sendable {
    public let className: String
    /// The app name its objects' ids are derived from: fixed for the class's life, so that
    /// a deployment under another app name does not move its objects (see `idNamespace`).
    public let app: String
    public let budget: InstanceBudget
    /// Container starts in progress at once, shared by every class of a server.
    let pacer: EnginePacer
    let runtime: any ContainerRuntime
    let probe: ReadinessProbe
    let logger: Logger
    let makeHooks: @Sendable (ObjectID) -> any ContainerHooks
    let specBox: SpecBox
    let observer: (any InstanceObserver)?
    /// The time its controllers read and their idle timers sleep on.
    let clock: BerthClock
    /// Told of every request to the class's objects.
    public let requestObserver: (any RequestObserver)?
    let shards: [Shard]
    /// Objects in memory now (the sum over the shards).
    let objectCounter = Atomic(0)
    /// Starts refused because every `max_instances` slot was taken.
    let refusedStarts = Atomic(0)
    /// Stopped containers parked for crash loops (see `ContainerClass+CrashBackoff.swift`).
    let parkedCount = Atomic(0)
    /// Open WebSockets to the class's objects (`berth.websockets.max_per_class`).
    public let openSockets = SocketCount()
    /// Its objects' own databases (nil: the class runs without storage, as in some tests).
    public let objectStorage: ObjectStorageRoot?
    /// Its objects' alarms.
    public let alarms: AlarmScheduler?

    final class Shard: Sendable {
        /// The shard's objects by id, the least recently used last.
        let objects = Mutex(RecencyTable<ObjectID, ContainerController>())
        /// Controllers by the name their id was derived from, so that a request routed by
        /// name (every request of a zero-code route) does not hash the name with SHA-256 again.
        let named = Mutex<[String: ContainerController]>([:])
        /// Objects whose last starts failed (crash-loop backoff), kept when they are forgotten.
        let crashes = Mutex<[ObjectID: CrashStreak]>([:])
    }

    public init(
        spec: ClassSpec, runtime: any ContainerRuntime, http: HTTPClient, logger: Logger = Logger(label: "berth.runtime"),
        observer: (any InstanceObserver)? = nil, requestObserver: (any RequestObserver)? = nil,
        hooks: @escaping @Sendable (ObjectID) -> any ContainerHooks = { _ in DefaultHooks() },
        clock: BerthClock = .continuous, idNamespace: String? = nil,
        pacer: EnginePacer = EnginePacer(limit: BerthSettings().maxConcurrentStarts),
        objects: ObjectStorageRoot? = nil, alarms: AlarmScheduler? = nil
    ) {
        self.objectStorage = objects
        self.alarms = alarms
        self.clock = clock
        self.pacer = pacer
        self.className = spec.settings.className
        self.app = idNamespace ?? spec.settings.app
        self.budget = InstanceBudget(limit: spec.maxInstances)
        self.runtime = runtime
        self.probe = ReadinessProbe(http: http)
        self.logger = logger
        self.observer = observer
        self.requestObserver = requestObserver
        self.makeHooks = hooks
        self.specBox = SpecBox(spec)
        self.shards = (0..<32).map { _ in Shard() }
    }

    /// How new instances run now.
    public var spec: ClassSpec { specBox.value }

    /// The current settings (those of the current deployment).
    public var settings: ContainerSettings { specBox.value.settings }

    /// Applies a deployment: new instances start from `spec` at once; running ones keep
    /// what they run until they stop or a rollout replaces them.
    public func update(_ spec: ClassSpec) {
        specBox.value = spec
        budget.limit = spec.maxInstances
    }

    /// Makes every request fail with `reason` (the class was deleted), or serve again (nil).
    public func disable(_ reason: String?) {
        var spec = specBox.value
        spec.disabledReason = reason
        specBox.value = spec
    }

    /// `idFromName(name)`: the same name gives the same id, forever.
    public func idFromName(_ name: String) -> ObjectID {
        ObjectID.fromName(name, className: className, app: app)
    }

    /// `idFromString(hex)`.
    public func idFromString(_ text: String) throws(BerthError) -> ObjectID {
        try ObjectID.fromString(text)
    }

    /// The object's own database.
    public func storage(of id: ObjectID) throws(BerthError) -> ObjectStorage {
        guard let objectStorage else { throw BerthError(.internal, "the container class \(className) runs without object storage here") }
        return objectStorage.storage(className: className, objectHex: id.hex)
    }

    /// Reads or sets when the object's alarm fires (`change`: nil reads; `.some(nil)` deletes).
    public func alarm(of id: ObjectID, set change: Date??) async throws(BerthError) -> Date? {
        guard let alarms else { throw BerthError(.internal, "the container class \(className) runs without alarms here") }
        let key = AlarmScheduler.Key(className: className, objectHex: id.hex)
        switch change {
        case nil: return await alarms.get(key)
        case .some(nil): try await alarms.delete(key)
        case .some(.some(let date)): try await alarms.set(key, at: date, name: id.name)
        }
        return await alarms.get(key)
    }

    /// Runs the alarm of the object `hex` (named `name`): it wakes the object, not its
    /// container. What the scheduler's `fire` does for the class.
    public func runAlarm(objectHex: String, name: String?, _ info: AlarmInfo) async -> AlarmScheduler.Outcome {
        if let reason = spec.disabledReason { return .unavailable(reason) }
        let id: ObjectID
        do { id = try ObjectID.restored(hex: objectHex, name: name) } catch { return .failed(error.message) }
        do {
            try await get(id).hooks.onAlarm(info)
            return .done
        } catch let error as BerthError where error.code == .unavailable {
            return .unavailable(error.message)
        } catch {
            return .failed(BerthError.wrap(error).message)
        }
    }

    /// `newUniqueId()`.
    public func newUniqueId() -> ObjectID {
        ObjectID.unique()
    }

    /// `get(id)`: the object's controller, created on first use (or first use after it was
    /// forgotten). Getting it starts nothing.
    public func get(_ id: ObjectID) -> ContainerController {
        let now = clock.now
        let (controller, created) = shard(id).objects.withLock { objects in
            if let existing = objects[id] { return (existing, false) }
            let controller = ContainerController(
                objectID: id, containerClass: self, hooks: makeHooks(id)
            )
            objects.insert(controller, for: id, now: now)
            return (controller, true)
        }
        if created, objectCounter.add(1, ordering: .relaxed).newValue > settings.maxObjects {
            forgetLeastRecentlyUsed(sparing: controller)
        }
        return controller
    }

    /// The object's controller if it is in memory; nil otherwise (nothing is created).
    public func existing(_ id: ObjectID) -> ContainerController? {
        shard(id).objects.withLock { $0[id] }
    }

    /// `getByName(name)`.
    public func getByName(_ name: String) -> ContainerController {
        let shard = shards[Self.shard(name: name, count: shards.count)]
        if let known = shard.named.withLock({ $0[name] }), !known.isRetired { return known }
        let controller = get(idFromName(name))
        // Only under the name its id was derived from: forgetting drops that entry.
        guard controller.objectID.name == name else { return controller }
        shard.named.withLock { named in
            // Forgetting marks the controller retired before it drops the entry, so an entry
            // made before that is dropped, and after it none is made.
            named[name] = controller.isRetired ? nil : controller
        }
        return controller
    }

    /// Every object in memory now.
    public var objects: [ContainerController] {
        shards.flatMap { $0.objects.withLock { $0.values } }
    }

    /// The state of every object in memory, with its instance.
    public func snapshots() async -> [ObjectSnapshot] {
        var result: [ObjectSnapshot] = []
        for object in objects { result.append(await object.snapshot()) }
        return result
    }

    /// Stops every running container of the class (SIGTERM, grace, SIGKILL), concurrently,
    /// and removes the stopped ones it kept for crash loops.
    public func stopAll() async {
        await withTaskGroup(of: Void.self) { group in
            for object in objects { group.addTask { await object.stop() } }
            for parked in takeAllParked() {
                group.addTask { [runtime] in await runtime.removeInstance(parked.containerID) }
            }
        }
    }

    static func shard(name: String, count: Int) -> Int {
        var hash = 0
        for byte in name.utf8.suffix(8) { hash = hash &* 31 &+ Int(byte) }
        return abs(hash % count)
    }

    func shard(_ id: ObjectID) -> Shard {
        shards[Self.shard(id, count: shards.count)]
    }

    static func shard(_ id: ObjectID, count: Int) -> Int {
        var hash = 0
        for byte in id.hex.utf8.prefix(8) { hash = hash &* 31 &+ Int(byte) }
        return abs(hash % count)
    }
}
