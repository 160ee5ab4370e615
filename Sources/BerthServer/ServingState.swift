import Berth
import BerthCore
import Synchronization

/// What the gateway serves now: the Worker and the `env` of the current deployment.
/// Swapped whole by a deployment; requests in flight finish with what they started with.
public final class ServingState: Sendable {
    public struct Serving: Sendable {
        public let worker: AnyWorker
        public let platform: Platform
    }

    private let storage = Mutex<Serving?>(nil)

    public init() {}

    public var current: Serving? { storage.withLock { $0 } }

    func replace(_ serving: Serving) {
        storage.withLock { $0 = serving }
    }
}
