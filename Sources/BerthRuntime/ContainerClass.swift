import AsyncHTTPClient
import BerthCore
import Logging
import Synchronization

/// The Durable Object namespace of one container class: ids, and at most one live
/// ``ContainerController`` per id. Lookups take one of several small locks chosen by the id,
/// so objects do not contend on one lock; each controller then serialises only its own state.
///
/// A class outlives deployments: a new deployment replaces its ``ClassSpec`` (new instances
/// use it at once) while its objects, and their running containers, stay.
public final class ContainerClass: Sendable {
    public let className: String
    public let app: String
    public let budget: InstanceBudget
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
    private let shards: [Shard]

    final class Shard: Sendable {
        let objects = Mutex<[ObjectID: ContainerController]>([:])
        /// Controllers by the name their id was derived from, so that a request routed by
        /// name (every request of a zero-code route) does not hash the name with SHA-256 again.
        let named = Mutex<[String: ContainerController]>([:])
    }

    public init(
        spec: ClassSpec, runtime: any ContainerRuntime, http: HTTPClient, logger: Logger = Logger(label: "berth.runtime"),
        observer: (any InstanceObserver)? = nil, requestObserver: (any RequestObserver)? = nil,
        hooks: @escaping @Sendable (ObjectID) -> any ContainerHooks = { _ in DefaultHooks() },
        clock: BerthClock = .continuous
    ) {
        self.clock = clock
        self.className = spec.settings.className
        self.app = spec.settings.app
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

    /// `newUniqueId()`.
    public func newUniqueId() -> ObjectID {
        ObjectID.unique()
    }

    /// `get(id)`: the object's controller, created on first use. Getting it starts nothing.
    public func get(_ id: ObjectID) -> ContainerController {
        shards[Self.shard(id, count: shards.count)].objects.withLock { objects in
            if let existing = objects[id] { return existing }
            let controller = ContainerController(
                objectID: id, containerClass: self, hooks: makeHooks(id)
            )
            objects[id] = controller
            return controller
        }
    }

    /// `getByName(name)`.
    public func getByName(_ name: String) -> ContainerController {
        let shard = shards[Self.shard(name: name, count: shards.count)]
        if let known = shard.named.withLock({ $0[name] }) { return known }
        let controller = get(idFromName(name))
        shard.named.withLock { $0[name] = controller }
        return controller
    }

    /// Every object used so far.
    public var objects: [ContainerController] {
        shards.flatMap { $0.objects.withLock { Array($0.values) } }
    }

    /// The state of every object used so far, with its instance.
    public func snapshots() async -> [ObjectSnapshot] {
        var result: [ObjectSnapshot] = []
        for object in objects { result.append(await object.snapshot()) }
        return result
    }

    /// Stops every running container of the class (SIGTERM, grace, SIGKILL), concurrently.
    public func stopAll() async {
        await withTaskGroup(of: Void.self) { group in
            for object in objects { group.addTask { await object.stop() } }
        }
    }

    static func shard(name: String, count: Int) -> Int {
        var hash = 0
        for byte in name.utf8.suffix(8) { hash = hash &* 31 &+ Int(byte) }
        return abs(hash % count)
    }

    static func shard(_ id: ObjectID, count: Int) -> Int {
        var hash = 0
        for byte in id.hex.utf8.prefix(8) { hash = hash &* 31 &+ Int(byte) }
        return abs(hash % count)
    }
}
