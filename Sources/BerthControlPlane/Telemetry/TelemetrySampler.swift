import BerthAPI
import ServiceLifecycle

/// Samples the running instances of every class into the metrics and the dashboard's
/// history, every 10 seconds, until shutdown.
public struct TelemetrySampler: Service {
    let telemetry: Telemetry
    let registry: ClassRegistry

    public init(telemetry: Telemetry, registry: ClassRegistry) {
        self.telemetry = telemetry
        self.registry = registry
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await telemetry.sample(registry)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(ActivityHistory.bucketSeconds)) }
        }
    }
}
