import Atomics
import Berth
import BerthAPI
import BerthControlPlane
import BerthCore
import BerthRuntime
import NIOHTTP1

/// What the gateway serves now: the Worker and the `env` of the current deployment.
/// Swapped whole by a deployment; requests in flight finish with what they started with.
/// Every request reads it, so it is one atomic load, not a lock all requests share.
public final class ServingState: Sendable {
    public final class Serving: AtomicReference, Sendable {
        public let worker: AnyWorker
        public let platform: Platform
        /// The zero-code Worker, when the deployment has no Swift Worker: its requests to
        /// healthy containers take the gateway's warm path.
        public let routes: RoutesWorker?

        init(worker: AnyWorker, platform: Platform, routes: RoutesWorker?) {
            self.worker = worker
            self.platform = platform
            self.routes = routes
        }
    }

    private let storage = ManagedAtomic<Serving?>(nil)

    public init() {}

    public var current: Serving? { storage.load(ordering: .acquiring) }

    /// The gateway's warm path: a lease when the current deployment routes `head` without a
    /// Swift Worker to an object whose container is healthy.
    var warmRouting: WarmRouting {
        { [self] head in
            guard let current, let routes = current.routes else { return nil }
            return routes.warmLease(for: head, classes: current.platform.bindings)
        }
    }

    func replace(_ serving: Serving) {
        storage.store(serving, ordering: .releasing)
    }

    /// Serves `platform` from now on: with `worker`, or without one, with the platform's
    /// zero-code routes (whose requests to healthy containers take the warm path).
    public func serve(_ platform: Platform, worker: (any Worker)?) {
        let routes = worker == nil ? RoutesWorker(routes: platform.routes, appName: platform.config.name) : nil
        replace(.init(worker: AnyWorker(worker ?? routes!), platform: platform, routes: routes))
    }
}
