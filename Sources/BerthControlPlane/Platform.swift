import AsyncHTTPClient
import Berth
import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import BerthStorage
import Logging

/// What one deployment serves: its configuration, the ``ContainerClass`` of each configured
/// container by class name, the routes, and the Worker's `env`, which reaches the classes by
/// binding. Classes come from a ``ClassRegistry`` and outlive the deployment.
public final class Platform: Sendable {
    public let config: ProjectConfig
    public let deploymentID: String
    public let classes: [String: ContainerClass]
    public let routes: RouteTable
    public let registry: ClassRegistry

    /// The Worker's bindings: a namespace per Durable Object binding of a container class.
    public let env: Env
    /// The class behind each binding of `env`.
    public let bindings: [String: ContainerClass]

    init(config: ProjectConfig, deploymentID: String, classes: [String: ContainerClass], registry: ClassRegistry, secrets: [String: String] = [:]) {
        self.config = config
        self.deploymentID = deploymentID
        self.classes = classes
        self.registry = registry
        var bindings: [String: ContainerClass] = [:]
        for binding in config.durableObjects where binding.scriptName == nil {
            if let containerClass = classes[binding.className] { bindings[binding.name] = containerClass }
        }
        self.bindings = bindings
        var routeConfigs = config.berth.routes
        if routeConfigs.isEmpty, bindings.count == 1, let only = bindings.keys.first {
            routeConfigs = RouteConfig.template(binding: only)
        }
        routes = RouteTable(routes: routeConfigs)
        env = Env(
            namespaces: bindings.mapValues {
                DurableObjectNamespace(link: LocalClassLink(containerClass: $0, proxy: registry.proxy, callbacks: registry.callbackNames($0.className)))
            },
            vars: config.vars,
            secrets: secrets
        )
    }

    /// A platform of its own registry, for one configuration (tests, embedding).
    /// - Parameters:
    ///   - images: the image of each container, by container name.
    ///   - containerTypes: Swift ``Container`` types by class name; their class properties
    ///     and hooks replace `berth.classes`.
    ///   - objectsFolder: where objects keep their storage and alarms (nil: none); the alarms
    ///     fire once `registry.startAlarms()` is called.
    public convenience init(
        config: ProjectConfig, images: [String: BuiltImage], runtime: any ContainerRuntime, logger: Logger,
        containerTypes: [String: any Container.Type] = [:], objectsFolder: String? = nil, alarmRetryBase: Duration = .seconds(2),
        workerHooks: (@Sendable (String, ObjectID) -> any ContainerHooks)? = nil
    ) throws(BerthError) {
        let registry = ClassRegistry(
            runtime: runtime, logger: logger, containerTypes: containerTypes, responseTimeout: config.berth.limits.responseTimeout,
            workerHooks: workerHooks,
            objects: objectsFolder.map { ObjectStorageRoot(folder: $0) },
            alarms: objectsFolder.map { AlarmScheduler(folder: $0, retryBase: alarmRetryBase, unavailableDelay: min(alarmRetryBase, .seconds(1)), logger: logger) }
        )
        let platform = try registry.platform(for: config, images: images, deploymentID: "dev")
        self.init(config: config, deploymentID: "dev", classes: platform.classes, registry: registry)
    }

    /// Stops every container (SIGTERM, grace, SIGKILL) and closes the proxy's connections.
    public func shutdown() async {
        await registry.alarms?.stop()
        await registry.shutdown()
    }
}
