import AsyncHTTPClient
import Berth
import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import BerthStorage
import Logging
import NIOCore
import Synchronization

/// Every container class a server has served, by class name. A deployment updates the
/// classes it names (their objects and running containers stay) and disables the others.
public final class ClassRegistry: Sendable {
    let runtime: any ContainerRuntime
    let logger: Logger
    let observer: (any InstanceObserver)?
    /// Metrics, and the observer of each class's requests.
    public let telemetry: Telemetry?
    let containerTypes: [String: any Container.Type]
    /// The hooks of classes whose Container type lives in a Worker process (by class name and
    /// object); consulted for classes without an in-process type.
    let workerHooks: (@Sendable (String, ObjectID) -> any ContainerHooks)?
    /// Added to every container's labels (the server's id), so that a restart finds its own.
    let ownerLabels: [String: String]
    let http: HTTPClient
    public let proxy: ContainerProxy
    private let classes = Mutex<[String: ContainerClass]>([:])
    private let namespace = Mutex<String?>(nil)
    private let connectionsClosed = Atomic(false)
    /// Every object's own database (`.berth/objects`); nil: classes run without storage.
    public let objects: ObjectStorageRoot?
    /// Every object's alarm.
    public let alarms: AlarmScheduler?
    /// Container starts in progress at once across every class (`berth.max_concurrent_starts`).
    public let pacer = EnginePacer(limit: BerthSettings().maxConcurrentStarts)

    public init(
        runtime: any ContainerRuntime, logger: Logger, observer: (any InstanceObserver)? = nil, telemetry: Telemetry? = nil,
        containerTypes: [String: any Container.Type] = [:], ownerLabels: [String: String] = [:], responseTimeout: Duration? = nil,
        workerHooks: (@Sendable (String, ObjectID) -> any ContainerHooks)? = nil,
        objects: ObjectStorageRoot? = nil, alarms: AlarmScheduler? = nil
    ) {
        self.objects = objects
        self.alarms = alarms
        self.workerHooks = workerHooks
        self.telemetry = telemetry
        self.runtime = runtime
        self.logger = logger
        self.observer = observer
        self.containerTypes = containerTypes
        self.ownerLabels = ownerLabels
        var configuration = HTTPClient.Configuration()
        // `berth.limits.response_timeout`: the container's longest silence, before its
        // response head and between two reads of its body.
        configuration.timeout = .init(connect: .seconds(5), read: responseTimeout.map { TimeAmount($0) })
        configuration.decompression = .disabled
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        proxy = ContainerProxy(http: http, responseTimeout: responseTimeout)
    }

    /// Every class served so far, also those the current deployment no longer has.
    public var all: [ContainerClass] { classes.withLock { Array($0.values) } }

    public subscript(className: String) -> ContainerClass? { classes.withLock { $0[className] } }

    /// The app name every class's object ids are derived from (`idFromName`), whatever app
    /// name a deployment has; until set, each class takes its first deployment's.
    public var objectNamespace: String? {
        get { namespace.withLock { $0 } }
        set { namespace.withLock { $0 = newValue } }
    }

    /// The platform of a deployment: its classes updated (new instances use the new spec at
    /// once), classes it does not name disabled. Every class's containers, and the Worker's
    /// `env`, get `secrets`.
    /// `workerClasses`: the properties of the Container classes a Worker process declares
    /// (they replace `berth.classes`, as in-process `containerTypes` do).
    public func platform(
        for config: ProjectConfig, images: [String: BuiltImage], deploymentID: String, secrets: SecretValues = SecretValues(),
        workerClasses: [String: ContainerProperties] = [:]
    ) throws(BerthError) -> Platform {
        pacer.limit = config.berth.maxConcurrentStarts
        var ordered: [ClassSpec] = []
        for container in config.containers {
            guard let image = images[container.name] else {
                throw BerthError(.internal, "no image was built for container \(container.name)")
            }
            var spec = spec(for: container, image: image, config: config, deploymentID: deploymentID, workerClasses: workerClasses)
            spec.settings.secrets = secrets.values
            spec.settings.secretsVersion = secrets.version
            ordered.append(spec)
        }
        let selected: [String: ContainerClass] = classes.withLock { classes in
            var selected: [String: ContainerClass] = [:]
            for spec in ordered {
                let name = spec.settings.className
                if let existing = classes[name] {
                    existing.update(spec)
                    selected[name] = existing
                } else {
                    let created = makeClass(spec)
                    classes[name] = created
                    selected[name] = created
                }
            }
            for (name, containerClass) in classes where selected[name] == nil {
                containerClass.disable("the container class \(name) is not part of the current deployment (\(deploymentID)); deploy a configuration that has it")
            }
            return selected
        }
        return Platform(config: config, deploymentID: deploymentID, classes: selected, registry: self, secrets: secrets.values)
    }

    func spec(
        for container: ContainerConfig, image: BuiltImage, config: ProjectConfig, deploymentID: String,
        workerClasses: [String: ContainerProperties] = [:]
    ) -> ClassSpec {
        var settings = ContainerSettings(app: config.name, container: container, image: image.reference, berth: config.berth)
        let properties = config.berth.classes[container.className] ?? ClassSettings()
        settings.defaultPort = properties.defaultPort ?? image.exposedPorts.first
        settings.requiredPorts = properties.requiredPorts
        settings.exposedPorts = image.exposedPorts
        settings.sleepAfter = properties.sleepAfter
        settings.envVars = properties.envVars
        settings.entrypoint = properties.entrypoint
        settings.enableInternet = properties.enableInternet
        settings.pingEndpoint = properties.pingEndpoint
        settings.labels = properties.labels
        settings.crashBackoff = properties.crashBackoff
        settings.isolation = properties.isolation
        settings.webSocketActivity = properties.webSocketActivity
        (workerClasses[container.className] ?? containerTypes[container.className]?.properties)?.apply(to: &settings)
        settings.labels.merge(ownerLabels) { $1 }
        return ClassSpec(settings: settings, maxInstances: container.maxInstances, deploymentID: deploymentID, imageID: image.id)
    }

    private func makeClass(_ spec: ClassSpec) -> ContainerClass {
        let type = containerTypes[spec.settings.className]
        let holder = ClassHolder()
        let proxy = self.proxy
        let workerHooks = self.workerHooks
        let className = spec.settings.className
        let containerClass = ContainerClass(
            spec: spec, runtime: runtime, http: http, logger: logger, observer: observer,
            requestObserver: telemetry?.forClass(spec.settings.className),
            hooks: { id in
                guard let type, let owner = holder.value else { return workerHooks?(className, id) ?? DefaultHooks() }
                let link = LocalObjectByID(containerClass: owner, id: id, proxy: proxy, scheduleCallbacks: ContainerObject.callbackNames(type))
                return ContainerObject.make(type, className: owner.className, link: link)
            },
            idNamespace: objectNamespace,
            pacer: pacer, objects: objects, alarms: alarms
        )
        holder.value = containerClass
        return containerClass
    }

    /// Starts firing the alarms kept: each runs on its class's object (woken, its container
    /// not started). An alarm of a class no deployment has yet waits for one.
    public func startAlarms() async throws(BerthError) {
        try await alarms?.start { [weak self] key, name, info in
            guard let containerClass = self?[key.className] else { return .unavailable("no deployment has the container class \(key.className)") }
            return await containerClass.runAlarm(objectHex: key.objectHex, name: name, info)
        }
    }

    /// Removes every object's storage and alarm of `className`; returns how many of each.
    public func purgeStorage(className: String) async -> (objects: Int, alarms: Int) {
        let objects = self.objects?.purge(className: className) ?? 0
        let alarms = (try? await self.alarms?.purge(className: className)) ?? 0
        return (objects, alarms ?? 0)
    }

    /// The names of the schedule callbacks of `className`'s Swift type here (nil: none here).
    func callbackNames(_ className: String) -> Set<String>? {
        containerTypes[className].map { ContainerObject.callbackNames($0) }
    }

    /// Forgets, in every class, the objects that have held nothing for `objectIdleForget`.
    @discardableResult
    public func forgetIdleObjects() -> Int {
        all.reduce(0) { $0 + $1.forgetIdleObjects() }
    }

    /// Stops every container (SIGTERM, grace, SIGKILL) and closes the proxy's connections.
    public func shutdown() async {
        await withTaskGroup(of: Void.self) { group in
            for containerClass in all { group.addTask { await containerClass.stopAll() } }
        }
        await closeConnections()
    }

    /// Closes the proxy's connections (and the readiness probes'); containers keep running.
    /// Once closed, later calls do nothing.
    public func closeConnections() async {
        guard !connectionsClosed.exchange(true, ordering: .relaxed) else { return }
        try? await http.shutdown()
    }
}

/// Lets a class's hooks factory reach the class it belongs to, which exists only after the
/// factory is made. Written once, before any object is created.
final class ClassHolder: @unchecked Sendable {
    var value: ContainerClass?
}
