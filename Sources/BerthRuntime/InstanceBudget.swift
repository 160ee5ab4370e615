import BerthCore
import Synchronization

/// `max_instances` of one container class: a count of live instances that never goes over
/// the limit, not even briefly. Taken when a start begins, given back when the instance is gone.
public final class InstanceBudget: Sendable {
    private let state: Mutex<(limit: Int, count: Int)>

    public init(limit: Int) {
        state = Mutex((limit, 0))
    }

    /// The limit; a new deployment may change it. Lowering it stops nothing: starts wait
    /// until enough instances are gone.
    public var limit: Int {
        get { state.withLock { $0.limit } }
        set { state.withLock { $0.limit = newValue } }
    }

    /// Live (or starting) instances now.
    public var inUse: Int { state.withLock { $0.count } }

    /// Takes a slot, or returns false when all are in use.
    public func tryAcquire() -> Bool {
        state.withLock { value in
            guard value.count < value.limit else { return false }
            value.count += 1
            return true
        }
    }

    /// Counts an instance that already runs (adopted after a restart), even over the limit.
    public func forceAcquire() {
        state.withLock { $0.count += 1 }
    }

    public func release() {
        state.withLock { $0.count = max(0, $0.count - 1) }
    }
}
