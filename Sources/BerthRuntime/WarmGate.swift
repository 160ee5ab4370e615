import Synchronization

/// Admits requests to an object's healthy container without a hop onto its actor.
///
/// The ``ContainerController`` opens the gate when its container becomes healthy and closes
/// it whenever the container leaves that state (stop, exit, idle). While it is open, a
/// request takes a lease with one lock of this object's own (never shared with other objects)
/// and gives it back the same way; the controller reads the count and the last activity when
/// its idle timer fires, and closes the gate only when nothing is in flight, in the same
/// critical section, so a request is never admitted to a container that is being stopped.
final class WarmGate: Sendable {
    /// What an open gate sends requests to.
    struct Target: Sendable {
        var generation: Int
        var instanceID: String
        var endpoints: [Int: Endpoint]
        /// `defaultPort`, else the first port checked for readiness.
        var defaultPort: Int?
    }

    struct State {
        var target: Target?
        /// Leases of the open generation not yet released.
        var inFlight = 0
        /// The last time a lease was taken or released through the gate.
        var lastActivity: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    /// A lease for `port` (nil: the default port) when the container is healthy and the port
    /// is published; nil otherwise, and the caller goes through the actor.
    func admit(port: Int?, now: ContinuousClock.Instant) -> (generation: Int, instanceID: String, endpoint: Endpoint)? {
        state.withLock { state in
            guard let target = state.target, let port = port ?? target.defaultPort, let endpoint = target.endpoints[port] else {
                return nil
            }
            state.inFlight += 1
            state.lastActivity = now
            return (target.generation, target.instanceID, endpoint)
        }
    }

    /// A lease taken through the gate ended.
    func release(generation: Int, now: ContinuousClock.Instant) {
        state.withLock { state in
            state.lastActivity = now
            // A lease of an earlier instance: the gate's count started again at its opening.
            guard state.target?.generation == generation else { return }
            state.inFlight = max(0, state.inFlight - 1)
        }
    }

    /// Activity without a request: a frame on a WebSocket of a class that counts frames.
    func touch(now: ContinuousClock.Instant) {
        state.withLock { $0.lastActivity = now }
    }

    /// Opens the gate for a healthy container; for the container it is open for already,
    /// takes its new endpoints and keeps the count of leases out.
    func open(_ target: Target) {
        state.withLock { state in
            if state.target?.generation != target.generation { state.inFlight = 0 }
            state.target = target
        }
    }

    /// Closes the gate: new requests go through the actor.
    func close() {
        state.withLock { state in
            state.target = nil
            state.inFlight = 0
        }
    }

    /// Closes the gate only if no lease is out and nothing happened after `since`.
    func closeIfIdle(since: ContinuousClock.Instant) -> Bool {
        state.withLock { state in
            guard state.inFlight == 0, (state.lastActivity.map { $0 <= since } ?? true) else { return false }
            state.target = nil
            return true
        }
    }

    /// Leases out now, and the last activity through the gate.
    var activity: (inFlight: Int, lastActivity: ContinuousClock.Instant?) {
        state.withLock { ($0.inFlight, $0.lastActivity) }
    }
}
