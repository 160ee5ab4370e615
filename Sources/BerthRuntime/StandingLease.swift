import Synchronization

/// Permission for a holder outside the server's process (a Worker process) to send requests
/// to one healthy container itself, as many as it likes, until the ``WarmGate`` closes: the
/// gate then takes it back (`revoke`), and the platform stops, replaces or pauses that
/// container only once the holder has given it up. While the holder has requests in flight
/// under it, it counts as one lease out of the gate (the idle timer waits); each request
/// it reports counts as activity and in the object's metrics.
public final class StandingLease: Sendable {
    private static let nextID = Atomic<UInt64>(0)

    public let id: UInt64
    public let endpoint: Endpoint
    public let generation: Int
    public let controller: ContainerController
    let revoke: @Sendable (_ drain: Bool) async -> Void

    init(
        endpoint: Endpoint, generation: Int, controller: ContainerController,
        revoke: @escaping @Sendable (_ drain: Bool) async -> Void
    ) {
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).newValue
        self.endpoint = endpoint
        self.generation = generation
        self.controller = controller
        self.revoke = revoke
    }

    /// Whether the holder may open new connections to ``endpoint`` now (``EngineSight``).
    public var mayConnect: Bool { controller.owner.runtime.sight.trusted }

    /// The holder's requests under this lease went from none to some (`true`) or back.
    public func inFlight(_ busy: Bool) {
        controller.gate.standing(self, busy: busy, now: controller.clock.now)
    }

    /// One exchange the holder made: its status and how long the container took.
    public func report(status: Int, duration: Duration) {
        controller.gate.touch(now: controller.clock.now)
        controller.requestObserver?.request(className: controller.className, status: status, duration: duration, failure: nil)
    }

    /// The holder gives the lease up without being asked.
    public func giveUp() {
        controller.gate.giveUp(self)
    }
}

extension ContainerController {
    /// A standing lease on `port` (nil: the default port) while the container is healthy,
    /// else nil. `revoke` is how the gate takes it back; it returns once the holder sends no
    /// more requests under it (`drain`: and has none in flight).
    public nonisolated func standingLease(port: Int? = nil, revoke: @escaping @Sendable (_ drain: Bool) async -> Void) -> StandingLease? {
        gate.grant(port: port, controller: self, revoke: revoke)
    }
}
