import BerthAPI
import BerthCore
import BerthRuntime
import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Watches whether the container engine answers while Berth serves: a ping every `interval`.
/// The state shows in `berth_engine_up` (1 or 0), in `GET /api/server` (`engine`) and in one
/// log line at each change. Nothing waits for it: starts meanwhile fail with 503 on their own,
/// the exit watcher reconnects its events stream and looks again at every container it waits
/// for (so containers the engine lost meanwhile end their objects' instances). When the engine
/// answers again it calls `onRecovery` (the server reconciles its containers with the engine)
/// before its next ping, so two recoveries never overlap.
public final class EngineMonitor: Service, Sendable {
    let engine: any EngineDriver
    let logger: Logger
    let interval: Duration
    let gauge: CoreMetrics.Gauge
    let onRecovery: @Sendable () async -> Void
    private let state: Mutex<EngineHealth>

    public init(engine: any EngineDriver, telemetry: Telemetry, logger: Logger, interval: Duration = .seconds(2),
                onRecovery: @escaping @Sendable () async -> Void = {}) {
        self.engine = engine
        self.onRecovery = onRecovery
        self.logger = logger
        self.interval = interval
        gauge = CoreMetrics.Gauge(label: "berth_engine_up", factory: telemetry.factory)
        gauge.record(1)
        state = Mutex(EngineHealth(up: true, since: Date()))
    }

    /// The engine's state as last seen.
    public var health: EngineHealth { state.withLock { $0 } }

    /// Pings the engine once and records what it found; back up, reconciles first.
    public func check() async {
        do {
            try await engine.ping()
            if record(up: true, error: nil) { await onRecovery() }
        } catch {
            record(up: false, error: error.message)
        }
    }

    /// Whether the state changed.
    @discardableResult
    private func record(up: Bool, error: String?) -> Bool {
        let changed = state.withLock { health -> Bool in
            defer { health.error = error }
            guard health.up != up else { return false }
            health.up = up
            health.since = Date()
            return true
        }
        gauge.record(up ? 1 : 0)
        guard changed else { return false }
        if up {
            logger.info("the container engine answers again; reconciling its containers")
        } else {
            logger.warning("the container engine is not answering; retrying", metadata: ["error": "\(error ?? "")"])
        }
        return true
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            await check()
        }
    }
}
