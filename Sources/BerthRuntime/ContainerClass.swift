import AsyncHTTPClient
import BerthCore
import Logging
import Synchronization

/// The Durable Object namespace of one container class: ids, and at most one live
/// ``ContainerController`` per id. Lookups take one of several small locks chosen by the id,
/// so objects do not contend on one lock; each controller then serialises only its own state.
public final class ContainerClass: Sendable {
    public let settings: ContainerSettings
    public let budget: InstanceBudget
    let runtime: any ContainerRuntime
    let probe: ReadinessProbe
    let logger: Logger
    let makeHooks: @Sendable (ObjectID) -> any ContainerHooks
    let currentImage: CurrentImage
    private let shards: [Shard]

    final class Shard: Sendable {
        let objects = Mutex<[ObjectID: ContainerController]>([:])
    }

    public init(
        settings: ContainerSettings, maxInstances: Int, runtime: any ContainerRuntime, http: HTTPClient,
        logger: Logger = Logger(label: "berth.runtime"), hooks: @escaping @Sendable (ObjectID) -> any ContainerHooks = { _ in DefaultHooks() }
    ) {
        self.settings = settings
        self.budget = InstanceBudget(limit: maxInstances)
        self.runtime = runtime
        self.probe = ReadinessProbe(http: http)
        self.logger = logger
        self.makeHooks = hooks
        self.currentImage = CurrentImage(settings.image)
        self.shards = (0..<32).map { _ in Shard() }
    }

    public var className: String { settings.className }

    /// `idFromName(name)`: the same name gives the same id, forever.
    public func idFromName(_ name: String) -> ObjectID {
        ObjectID.fromName(name, className: settings.className, app: settings.app)
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
                objectID: id, settings: settings, image: currentImage, runtime: runtime, budget: budget, probe: probe,
                hooks: makeHooks(id), logger: logger
            )
            objects[id] = controller
            return controller
        }
    }

    /// `getByName(name)`.
    public func getByName(_ name: String) -> ContainerController {
        get(idFromName(name))
    }

    /// The image new instances start from.
    public var image: String { currentImage.value }

    /// Makes new instances start from `image` (a rebuild); running ones keep theirs.
    public func setImage(_ image: String) {
        currentImage.value = image
    }

    /// Every object used so far.
    public var objects: [ContainerController] {
        shards.flatMap { $0.objects.withLock { Array($0.values) } }
    }

    /// Stops every running container of the class (SIGTERM, grace, SIGKILL), concurrently.
    public func stopAll() async {
        await withTaskGroup(of: Void.self) { group in
            for object in objects { group.addTask { await object.stop() } }
        }
    }

    static func shard(_ id: ObjectID, count: Int) -> Int {
        var hash = 0
        for byte in id.hex.utf8.prefix(8) { hash = hash &* 31 &+ Int(byte) }
        return abs(hash % count)
    }
}

/// The image a class's new instances start from, shared by its controllers.
final class CurrentImage: Sendable {
    private let storage: Mutex<String>
    init(_ image: String) { storage = Mutex(image) }
    var value: String {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
