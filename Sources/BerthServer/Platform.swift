import AsyncHTTPClient
import Berth
import BerthConfig
import BerthCore
import BerthRuntime
import Logging

/// An image ready to run for one container class.
public struct BuiltImage: Sendable {
    /// The tag or id to create containers from.
    public var reference: String
    /// Ports the image EXPOSEs, in order.
    public var exposedPorts: [Int]

    public init(reference: String, exposedPorts: [Int]) {
        self.reference = reference
        self.exposedPorts = exposedPorts
    }
}

/// Everything a running project needs to serve requests: one ``ContainerClass`` per
/// configured container by class name, and the Worker's `env`, which reaches them by binding.
public final class Platform: Sendable {
    public let config: ProjectConfig
    public let classes: [String: ContainerClass]
    public let routes: RouteTable
    let http: HTTPClient

    /// The Worker's bindings: a namespace per Durable Object binding of a container class.
    public let env: Env

    /// - Parameters:
    ///   - images: the image of each container, by container name.
    ///   - containerTypes: Swift ``Container`` types by class name; their class properties
    ///     and hooks replace `berth.classes`.
    public init(
        config: ProjectConfig, images: [String: BuiltImage], runtime: any ContainerRuntime, logger: Logger,
        containerTypes: [String: any Container.Type] = [:]
    ) throws(BerthError) {
        self.config = config
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: nil)
        configuration.decompression = .disabled
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        configuration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)

        var classes: [String: ContainerClass] = [:]
        let proxy = ContainerProxy(http: http)
        for container in config.containers {
            guard let image = images[container.name] else {
                throw BerthError(.internal, "no image was built for container \(container.name)")
            }
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
            let type = containerTypes[container.className]
            type?.apply(to: &settings)
            let holder = ClassHolder()
            let containerClass = ContainerClass(
                settings: settings, maxInstances: container.maxInstances, runtime: runtime, http: http, logger: logger,
                hooks: { id in
                    guard let type, let owner = holder.value else { return DefaultHooks() }
                    return type.init(context: ContainerContext(id: id, containerClass: owner, proxy: proxy))
                }
            )
            holder.value = containerClass
            classes[container.className] = containerClass
        }
        self.classes = classes
        var bindings: [String: ContainerClass] = [:]
        for binding in config.durableObjects where binding.scriptName == nil {
            if let containerClass = classes[binding.className] { bindings[binding.name] = containerClass }
        }
        var routeConfigs = config.berth.routes
        if routeConfigs.isEmpty, bindings.count == 1, let only = bindings.keys.first {
            routeConfigs = RouteConfig.template(binding: only)
        }
        routes = RouteTable(routes: routeConfigs)
        env = Env(
            namespaces: bindings.mapValues { DurableObjectNamespace(containerClass: $0, proxy: proxy) },
            vars: config.vars
        )
    }

    /// Stops every container (SIGTERM, grace, SIGKILL) and closes the proxy's connections.
    public func shutdown() async {
        await withTaskGroup(of: Void.self) { group in
            for containerClass in classes.values { group.addTask { await containerClass.stopAll() } }
        }
        try? await http.shutdown()
    }
}

/// Lets a class's hooks factory reach the class it belongs to, which exists only after the
/// factory is made. Written once, before any object is created.
final class ClassHolder: @unchecked Sendable {
    var value: ContainerClass?
}
