import BerthRuntime
import ServiceLifecycle

/// Forgets the objects that have held nothing for their class's `objectIdleForget`, every
/// tenth of the shortest such period (between 1 s and a minute), until shutdown.
public struct ObjectSweeper: Service {
    let registry: ClassRegistry

    public init(registry: ClassRegistry) {
        self.registry = registry
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let shortest = registry.all.map(\.settings.objectIdleForget).min() ?? .seconds(600)
            let interval = min(max(shortest / 10, .seconds(1)), .seconds(60))
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            registry.forgetIdleObjects()
        }
    }
}
