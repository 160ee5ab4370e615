import BerthConfig
import BerthCore
import Synchronization

/// Something that can end an open WebSocket with a close frame of Berth's: a relay between a
/// client and a container, or an endpoint Berth itself reads.
public protocol ClosableSocket: AnyObject, Sendable {
    /// Ends the socket at the next frame boundary of each direction with `code` and `reason`,
    /// then closes its connections.
    func goAway(code: UInt16, reason: String)
}

/// The open WebSockets of one object, by the instance they reach: counted against
/// `berth.websockets.max_per_object` (and, through the class, `max_per_class`), listed for
/// the dashboard and `/metrics`, and closed with 1001 when their instance stops. One lock of
/// the object's own, taken when a socket opens or closes, never per frame.
public final class OpenSockets: Sendable {
    struct Entry {
        let instanceID: String
        weak var socket: (any ClosableSocket)?
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var next = 0
    }

    private let state = Mutex(State())
    /// The class's count, shared by its objects.
    let classCount: SocketCount

    init(classCount: SocketCount) {
        self.classCount = classCount
    }

    /// Open sockets now.
    public var count: Int { state.withLock { $0.entries.count } }

    /// Open sockets by instance id.
    public var byInstance: [String: Int] {
        state.withLock { state in
            state.entries.values.reduce(into: [:]) { $0[$1.instanceID, default: 0] += 1 }
        }
    }

    /// Reserves a place for one more socket to `instanceID`, or throws the refusal that names
    /// the limit. Give it back with ``close(_:)``; attach the socket with ``attach(_:_:)``.
    public func reserve(instanceID: String, limits: WebSocketSettings, object: String) throws(BerthError) -> Int {
        let perClass = classCount.value.add(1, ordering: .relaxed).newValue
        if perClass > limits.maxPerClass {
            classCount.value.subtract(1, ordering: .relaxed)
            throw Self.refusal("its class already has \(limits.maxPerClass) open WebSockets (berth.websockets.max_per_class)")
        }
        let id: Int? = state.withLock { state in
            guard state.entries.count < limits.maxPerObject else { return nil }
            state.next += 1
            state.entries[state.next] = Entry(instanceID: instanceID, socket: nil)
            return state.next
        }
        guard let id else {
            classCount.value.subtract(1, ordering: .relaxed)
            throw Self.refusal("the object \(object) already has \(limits.maxPerObject) open WebSockets (berth.websockets.max_per_object)")
        }
        return id
    }

    static func refusal(_ why: String) -> BerthError {
        var error = BerthError(.capacityExceeded, "No WebSocket can be opened now: \(why); close some, or raise the limit")
        error.retryAfterSeconds = 1
        return error
    }

    /// The socket that holds the place `id`. If its instance stopped meanwhile, it is told
    /// to go away at once.
    public func attach(_ id: Int, _ socket: any ClosableSocket) {
        let attached = state.withLock { state -> Bool in
            guard state.entries[id] != nil else { return false }
            state.entries[id]?.socket = socket
            return true
        }
        if !attached { socket.goAway(code: 1001, reason: "the container stopped") }
    }

    /// The socket of place `id` closed (or never opened).
    public func close(_ id: Int) {
        let removed = state.withLock { $0.entries.removeValue(forKey: id) != nil }
        if removed { classCount.value.subtract(1, ordering: .relaxed) }
    }

    /// Ends every socket to `instanceID` (nil: every socket) with `code`: their instance stops.
    /// Their places are given back as each one closes.
    public func goAway(instanceID: String?, code: UInt16, reason: String) {
        let sockets = state.withLock { state -> [any ClosableSocket] in
            var found: [any ClosableSocket] = []
            for (id, entry) in state.entries where instanceID == nil || entry.instanceID == instanceID {
                if let socket = entry.socket { found.append(socket) } else {
                    // Not attached yet: the attach that comes tells it to go.
                    state.entries[id] = nil
                    classCount.value.subtract(1, ordering: .relaxed)
                }
            }
            return found
        }
        for socket in sockets { socket.goAway(code: code, reason: reason) }
    }
}

/// The open WebSockets of one class, over all its objects.
public final class SocketCount: Sendable {
    let value = Atomic(0)
    public init() {}
    public var current: Int { value.load(ordering: .relaxed) }
}
