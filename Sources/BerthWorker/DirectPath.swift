import Berth
import BerthCore
import BerthStorage
import NIOCore
import Synchronization

/// A Worker process's standing leases and the forwarder that uses them: a stub's `fetch` to
/// a port the server granted a lease on goes straight to the container; any other goes to
/// the server, whose answer may grant one.
///
/// The server learns what it must: when the process has requests in flight under a lease
/// (`leaseBusy`, `leaseIdle`: the container is not idle), what each answered
/// (`leaseReport`: activity and metrics), and that a revoked lease is given up
/// (`leaseGivenUp`), after the requests in flight under it when the server asks to drain.
final class DirectPath: Sendable {
    struct Key: Hashable, Sendable {
        var className: String
        var id: String
        var port: Int?
    }

    struct Lease: Sendable {
        var id: UInt32
        var target: DirectTarget
    }

    private struct Entry {
        var lease: Lease
        var key: Key
        var inFlight = 0
        /// Revoked while requests were in flight: given up when the last ends.
        var draining = false
        /// Still findable by key (not revoked, not forgotten).
        var listed = true
    }

    private struct State {
        var byKey: [Key: UInt32] = [:]
        var entries: [UInt32: Entry] = [:]
    }

    let link: WireLink
    let forwarder: DirectForwarder
    /// WebSockets whose real end is in the server.
    let sockets = WireSockets()
    /// The objects' own databases, which the process opens itself (nil: the server gives
    /// its objects no storage).
    let objects: ObjectStorageRoot?
    private let state = Mutex(State())

    init(link: WireLink, responseTimeout: Duration, objectsFolder: String? = nil) {
        self.link = link
        self.objects = objectsFolder.map { ObjectStorageRoot(folder: $0) }
        self.forwarder = DirectForwarder(loop: link.channel.eventLoop, responseTimeout: responseTimeout)
        link.channel.closeFuture.whenComplete { [forwarder, sockets] _ in
            forwarder.closeAll()
            sockets.closeAll()
        }
    }

    /// Sends `request` straight to the container when the process holds a lease for `key`;
    /// nil when it does not (or the lease turned out unusable before anything was sent).
    func fetch(_ request: Request, key: Key) async -> Response? {
        guard !request.isWebSocketUpgrade, let lease = begin(key) else { return nil }
        let started = ContinuousClock.now
        do {
            let response = try await forwarder.forward(request, to: lease.target) { [weak self] in self?.end(lease.id) }
            report(lease.id, status: response.head.status.code, since: started)
            return response
        } catch let error as NotSent {
            _ = error
            // Refused: the container may be going; the server knows what to do next.
            forget(lease.id)
            end(lease.id)
            return nil
        } catch {
            end(lease.id)
            let failure = BerthError.wrap(error)
            let response = Response.error(failure)
            report(lease.id, status: response.head.status.code, since: started)
            return response
        }
    }

    /// A lease the server granted with a call's answer.
    func add(_ lease: WireLease, key: Key) {
        state.withLock { state in
            if let known = state.byKey[key] {
                if known != lease.id { send(.leaseGivenUp, lease.id) }
                return
            }
            guard state.entries[lease.id] == nil else { return }
            state.byKey[key] = lease.id
            state.entries[lease.id] = Entry(lease: Lease(id: lease.id, target: DirectTarget(host: lease.host, port: lease.port)), key: key)
        }
    }

    /// The server takes lease `id` back.
    func revoke(_ id: UInt32, drain: Bool) {
        state.withLock { state in
            guard var entry = state.entries[id] else {
                send(.leaseGivenUp, id)
                return
            }
            unlist(&entry, in: &state)
            if drain && entry.inFlight > 0 {
                entry.draining = true
                state.entries[id] = entry
            } else {
                state.entries[id] = nil
                send(.leaseGivenUp, id)
            }
        }
    }

    private func begin(_ key: Key) -> Lease? {
        state.withLock { state in
            guard let id = state.byKey[key], var entry = state.entries[id] else { return nil }
            entry.inFlight += 1
            state.entries[id] = entry
            // Sent under the lock, so that the server sees the transitions in their order.
            if entry.inFlight == 1 { send(.leaseBusy, id) }
            return entry.lease
        }
    }

    private func end(_ id: UInt32) {
        state.withLock { state in
            guard var entry = state.entries[id] else { return }
            entry.inFlight -= 1
            state.entries[id] = entry
            guard entry.inFlight == 0 else { return }
            send(.leaseIdle, id)
            if entry.draining || !entry.listed {
                state.entries[id] = nil
                send(.leaseGivenUp, id)
            }
        }
    }

    /// Stops using lease `id` (its container refused a connection); given up once idle.
    private func forget(_ id: UInt32) {
        state.withLock { state in
            guard var entry = state.entries[id] else { return }
            unlist(&entry, in: &state)
            state.entries[id] = entry
        }
    }

    private func unlist(_ entry: inout Entry, in state: inout State) {
        if entry.listed, state.byKey[entry.key] == entry.lease.id { state.byKey[entry.key] = nil }
        entry.listed = false
    }

    private func report(_ id: UInt32, status: Int, since started: ContinuousClock.Instant) {
        let took = started.duration(to: .now).components
        var payload = ByteBuffer()
        payload.writeInteger(UInt16(clamping: status))
        payload.writeInteger(UInt64(clamping: took.seconds * 1_000_000 + took.attoseconds / 1_000_000_000_000))
        link.send(WireFrame(.leaseReport, stream: id, payload: payload))
    }

    private func send(_ kind: WireFrame.Kind, _ id: UInt32) {
        link.send(WireFrame(kind, stream: id))
    }
}
