import BerthConfig
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// A WebSocket proxied between a client connection and a container's, frame boundary by frame
/// boundary: bytes pass as they arrive, in both directions, each with backpressure (a side
/// that cannot take more stops the reads of the other), and neither side's message is ever
/// held whole. Because each direction's ``FrameCursor`` knows where its frames end, Berth can
/// end the socket at any moment with a close frame of its own: when the container stops
/// (1001), when the server shuts down (1001), after `idle_timeout` (1001), on a frame that
/// breaks the protocol (1002) or the size limit (1009).
///
/// One ``RelaySide`` handler sits on each channel and owns that channel's state, on that
/// channel's event loop; the sides talk by messages, so the two channels may be on different
/// loops (they share one on the warm path).
public final class FrameRelay: ClosableSocket, @unchecked Sendable {
    /// The sides, each kept alive by its channel's pipeline (and, until ``start()``, here).
    private weak var client: RelaySide?
    private weak var container: RelaySide?
    fileprivate let unstarted: NIOLockedValueBox<(client: RelaySide, container: RelaySide, upstream: SwitchedUpstream)?>
    fileprivate let lease: ContainerLease?
    fileprivate let registration: (sockets: OpenSockets, id: Int)?
    private let ended = Atomic(0)
    /// Uptime nanoseconds of the last bytes either way (`idle_timeout`, frame activity).
    let lastActivity = Atomic<Int64>(0)
    private let lastTouch = Atomic<Int64>(0)
    private let touchesFrames: Bool
    /// Reads must note the time: an idle timeout runs, or frames count as activity.
    let watchesActivity: Bool
    let settings: WebSocketSettings
    private let onEnd: (@Sendable () -> Void)?

    /// `upstream`: the container's connection after its 101; `lease`: held until the socket
    /// ends when an open socket keeps the object awake, else released at once and each
    /// frame counts as activity; `registration`: its place among the object's open sockets.
    public init(
        upstream: SwitchedUpstream, lease: ContainerLease?, registration: (sockets: OpenSockets, id: Int)?, settings: WebSocketSettings,
        onEnd: (@Sendable () -> Void)? = nil
    ) {
        self.settings = settings
        self.registration = registration
        self.onEnd = onEnd
        self.lease = lease
        touchesFrames = lease.map { !$0.socketHoldsObject } ?? false
        if touchesFrames { lease?.releaseNow() }
        watchesActivity = touchesFrames || settings.idleTimeout != nil
        let client = RelaySide(sender: .client, maxMessageBytes: settings.maxMessageBytes)
        let container = RelaySide(sender: .container, maxMessageBytes: settings.maxMessageBytes)
        client.peer = container
        container.peer = client
        container.channel = upstream.channel
        self.client = client
        self.container = container
        unstarted = NIOLockedValueBox((client, container, upstream))
        client.relay = self
        container.relay = self
        lastActivity.store(Int64(upstream.channel.eventLoop.now.uptimeNanoseconds), ordering: .relaxed)
    }

    /// The handler to put on the client's channel where its HTTP handlers were; once it is
    /// there, call ``start()``.
    public var clientHandler: any ChannelHandler & Sendable { unstarted.withLockedValue { $0!.client } }

    /// Connects the container's side (what it sent with and after its 101 flows now) and
    /// takes the socket's place among its object's.
    public func start() {
        guard let parts = unstarted.withLockedValue({ value in defer { value = nil }; return value }) else { return }
        parts.upstream.handOver(to: parts.container)
        if let registration { registration.sockets.attach(registration.id, self) }
    }

    public func goAway(code: UInt16, reason: String) {
        client?.onLoop { $0.goAway(code: code, reason: reason) }
        container?.onLoop { $0.goAway(code: code, reason: reason) }
    }

    /// Bytes arrived on either side.
    func noteActivity(_ now: NIODeadline) {
        let nanos = Int64(now.uptimeNanoseconds)
        lastActivity.store(nanos, ordering: .relaxed)
        guard touchesFrames, nanos - lastTouch.load(ordering: .relaxed) >= 1_000_000_000 else { return }
        lastTouch.store(nanos, ordering: .relaxed)
        lease?.touch()
    }

    /// One side's connection closed; when both have, the socket's place and lease go back.
    func sideEnded() {
        guard ended.add(1, ordering: .acquiringAndReleasing).newValue == 2 else { return }
        if touchesFrames { lease?.touch() }
        lease?.releaseNow()
        if let registration { registration.sockets.close(registration.id) }
        onEnd?()
    }
}

extension FrameRelay {
    /// The relay will not start (its client went away first): the container's connection
    /// closes and the socket's place and lease go back.
    public func abandon() {
        guard let parts = unstarted.withLockedValue({ value in defer { value = nil }; return value }) else { return }
        parts.upstream.close()
        lease?.releaseNow()
        if let registration { registration.sockets.close(registration.id) }
    }
}
