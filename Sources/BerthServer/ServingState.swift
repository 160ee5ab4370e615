import Atomics
import Berth
import BerthCore

/// What the gateway serves now: the Worker and the `env` of the current deployment.
/// Swapped whole by a deployment; requests in flight finish with what they started with.
/// Every request reads it, so it is one atomic load, not a lock all requests share.
public final class ServingState: Sendable {
    public final class Serving: AtomicReference, Sendable {
        public let worker: AnyWorker
        public let platform: Platform

        init(worker: AnyWorker, platform: Platform) {
            self.worker = worker
            self.platform = platform
        }
    }

    private let storage = ManagedAtomic<Serving?>(nil)

    public init() {}

    public var current: Serving? { storage.load(ordering: .acquiring) }

    func replace(_ serving: Serving) {
        storage.store(serving, ordering: .releasing)
    }
}
