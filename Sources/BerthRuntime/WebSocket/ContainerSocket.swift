import BerthConfig
import BerthCore
import NIOCore
import NIOHTTP1
import Synchronization

/// A container's WebSocket after its 101, as `stub.fetch` returns it in its response: either
/// relayed to the client frame by frame (the Worker returns the response), or accepted by
/// the Worker, which then reads and sends messages itself. It holds the object's lease and
/// its place among the object's open sockets until it ends; dropped unused, it closes.
public final class ContainerSocket: Sendable {
    enum Use: Sendable {
        case unused
        case relayed
        case accepted(WebSocketEndpoint)
    }

    let upstream: SwitchedUpstream
    let lease: ContainerLease
    let registration: Int
    private let use = Mutex(Use.unused)

    init(upstream: SwitchedUpstream, lease: ContainerLease, registration: Int) {
        self.upstream = upstream
        self.lease = lease
        self.registration = registration
    }

    /// Opens a WebSocket to the container behind `lease`: reserves a place among the object's
    /// sockets, sends `head` (the client's handshake, rewritten here as the warm path does),
    /// and returns the socket with the container's 101, or the container's other answer.
    public static func open(
        lease: ContainerLease, request head: HTTPRequestHead, client: String?, scheme: String, on loop: any EventLoop, timeout: TimeAmount
    ) async throws(BerthError) -> (socket: ContainerSocket?, head: HTTPResponseHead, body: ByteBuffer?) {
        let sockets = lease.controller.sockets
        let place: Int
        do {
            place = try sockets.reserve(instanceID: lease.instanceID, limits: lease.webSocketLimits, object: lease.controller.objectID.name ?? lease.controller.objectID.hex)
        } catch {
            await lease.release()
            throw error
        }
        guard lease.mayConnect else {
            sockets.close(place)
            await lease.release()
            throw EngineSight.refusal
        }
        let outcome: ContainerUpgrade.Outcome
        do {
            outcome = try await ContainerUpgrade.open(lease.endpoint, head: ForwardingPolicy.webSocketHead(head, client: client, scheme: scheme), on: loop, timeout: timeout).get()
        } catch {
            sockets.close(place)
            await lease.release()
            throw ForwardingPolicy.failure(error)
        }
        switch outcome {
        case .switched(let upstream, let response):
            return (ContainerSocket(upstream: upstream, lease: lease, registration: place), response, nil)
        case .answered(let response, let body):
            sockets.close(place)
            await lease.release()
            return (nil, response, body)
        }
    }

    /// The relay to the client, once: nil when the Worker accepted the socket already.
    public func relay() -> FrameRelay? {
        let taken = use.withLock { use -> Bool in
            guard case .unused = use else { return false }
            use = .relayed
            return true
        }
        guard taken else { return nil }
        return FrameRelay(upstream: upstream, lease: lease, registration: (lease.controller.sockets, registration), settings: lease.webSocketLimits)
    }

    /// The socket as messages (the Worker reads it itself); the same endpoint on every call.
    /// Nil once it is relayed to the client.
    public func accept() -> WebSocketEndpoint? {
        use.withLock { use -> WebSocketEndpoint? in
            switch use {
            case .relayed: return nil
            case .accepted(let endpoint): return endpoint
            case .unused:
                let (lease, sockets, place) = (self.lease, lease.controller.sockets, registration)
                let holds = lease.socketHoldsObject
                if !holds { lease.releaseNow() }
                let endpoint = WebSocketEndpoint(channel: upstream.channel, role: .client, maxMessageBytes: lease.webSocketLimits.maxMessageBytes) {
                    if !holds { lease.touch() }
                    lease.releaseNow()
                    sockets.close(place)
                }
                sockets.attach(place, endpoint)
                upstream.handOver { endpoint.makeHandlers() }
                use = .accepted(endpoint)
                return endpoint
            }
        }
    }

    deinit {
        if case .unused = use.withLock({ $0 }) {
            upstream.close()
            lease.releaseNow()
            lease.controller.sockets.close(registration)
        }
    }
}
