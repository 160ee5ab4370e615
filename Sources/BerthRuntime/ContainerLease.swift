import BerthConfig
import Synchronization

/// Permission to send one request to a healthy container. Release it when the response has
/// been sent: the container's idle timer counts from the last release.
public final class ContainerLease: Sendable {
    public let endpoint: Endpoint
    public let instanceID: String
    public let controller: ContainerController
    /// Whether a new connection may be opened to ``endpoint`` now: the runtime has not lost
    /// sight of the engine since it last looked at its containers (``EngineSight``).
    public var mayConnect: Bool { controller.owner.runtime.sight.trusted }
    /// The gate's generation for a lease taken through the ``WarmGate``; nil for one the
    /// actor admitted.
    let generation: Int?
    private let released = Atomic(false)

    init(endpoint: Endpoint, instanceID: String, controller: ContainerController, generation: Int?) {
        self.endpoint = endpoint
        self.instanceID = instanceID
        self.controller = controller
        self.generation = generation
    }

    /// Ends the lease; the second and later calls do nothing.
    public func release() async {
        guard claimRelease() else { return }
        if let generation {
            controller.gate.release(generation: generation, now: controller.clock.now)
        } else {
            await controller.requestFinished()
        }
    }

    /// Ends a lease taken through the gate at once, from code that cannot wait (an event
    /// loop); an actor-admitted lease is released on a task.
    public func releaseNow() {
        guard claimRelease() else { return }
        if let generation {
            controller.gate.release(generation: generation, now: controller.clock.now)
        } else {
            let controller = self.controller
            Task { await controller.requestFinished() }
        }
    }

    /// Counts as activity of the object now, like a request, without holding it awake: a
    /// frame on a WebSocket of a class whose `websocket_activity` is `frames`.
    public func touch() {
        controller.gate.touch(now: controller.clock.now)
    }

    /// Whether an open WebSocket keeps the object awake (`websocket_activity` `open`), or
    /// only its frames do.
    public var socketHoldsObject: Bool { controller.owner.settings.webSocketActivity == .open }

    /// The WebSocket limits of the object's class.
    public var webSocketLimits: WebSocketSettings { controller.owner.settings.webSockets }

    private func claimRelease() -> Bool {
        !released.exchange(true, ordering: .acquiringAndReleasing)
    }

    deinit {
        releaseNow()
    }
}
