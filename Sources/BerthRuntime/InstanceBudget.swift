import BerthCore
import Synchronization

/// `max_instances` of one container class: a count of live instances that never goes over
/// the limit, not even briefly. Taken when a start begins, given back when the instance is gone.
public final class InstanceBudget: Sendable {
    public let limit: Int
    private let count = Mutex(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Live (or starting) instances now.
    public var inUse: Int { count.withLock { $0 } }

    /// Takes a slot, or returns false when all are in use.
    public func tryAcquire() -> Bool {
        count.withLock { value in
            guard value < limit else { return false }
            value += 1
            return true
        }
    }

    public func release() {
        count.withLock { $0 = max(0, $0 - 1) }
    }
}
