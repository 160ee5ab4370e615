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
        /// Standing leases of the open generation, by their id.
        var standing: [UInt64: StandingLease] = [:]
        /// Standing leases taken back when the gate closed, until their holders say so.
        var revocations: [Task<Void, Never>] = []
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

    /// Closes the gate: new requests go through the actor, and standing leases are taken
    /// back (`drain`: their holders finish the requests they sent first).
    func close(drain: Bool = true) {
        let taken = state.withLock { state in
            state.target = nil
            state.inFlight = 0
            defer { state.standing = [:] }
            return Array(state.standing.values)
        }
        revoke(taken, drain: drain)
    }

    /// Closes the gate only if no lease is out and nothing happened after `since`.
    func closeIfIdle(since: ContinuousClock.Instant) -> Bool {
        let taken: [StandingLease]? = state.withLock { state in
            guard state.inFlight == 0, (state.lastActivity.map { $0 <= since } ?? true) else { return nil }
            state.target = nil
            defer { state.standing = [:] }
            return Array(state.standing.values)
        }
        guard let taken else { return false }
        revoke(taken, drain: true)
        return true
    }

    // MARK: Standing leases

    /// A standing lease on `port` (nil: the default port) for a holder outside this process
    /// that forwards to the container itself (a Worker process): while the gate is open for
    /// this container, until the gate closes and takes it back through `revoke`.
    func grant(port: Int?, controller: ContainerController, revoke: @escaping @Sendable (_ drain: Bool) async -> Void) -> StandingLease? {
        state.withLock { state in
            guard let target = state.target, let port = port ?? target.defaultPort, let endpoint = target.endpoints[port] else {
                return nil
            }
            let lease = StandingLease(
                endpoint: endpoint, generation: target.generation, controller: controller, revoke: revoke
            )
            state.standing[lease.id] = lease
            return lease
        }
    }

    /// A holder's requests under `lease` went from none to some (true) or back (false): the
    /// holder counts as one lease out while it has any in flight.
    func standing(_ lease: StandingLease, busy: Bool, now: ContinuousClock.Instant) {
        state.withLock { state in
            state.lastActivity = now
            // A lease taken back already: the gate's count no longer holds it.
            guard state.target?.generation == lease.generation, state.standing[lease.id] != nil else { return }
            state.inFlight = busy ? state.inFlight + 1 : max(0, state.inFlight - 1)
        }
    }

    /// A holder gave `lease` up itself (its process ended, or it holds another for the same port).
    func giveUp(_ lease: StandingLease) {
        state.withLock { _ = $0.standing.removeValue(forKey: lease.id) }
    }

    private func revoke(_ leases: [StandingLease], drain: Bool) {
        guard !leases.isEmpty else { return }
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                for lease in leases { group.addTask { await lease.revoke(drain) } }
            }
        }
        state.withLock { $0.revocations.append(task) }
    }

    /// Returns once every standing lease taken back so far is given up by its holder, or
    /// after `limit` (a holder that does not answer cannot hold a stop back for longer).
    func revocationsSettled(within limit: Duration) async {
        let tasks = state.withLock { state in
            defer { state.revocations = [] }
            return state.revocations
        }
        guard !tasks.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for task in tasks { await task.value } }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Leases out now, and the last activity through the gate.
    var activity: (inFlight: Int, lastActivity: ContinuousClock.Instant?) {
        state.withLock { ($0.inFlight, $0.lastActivity) }
    }
}
