import NIOCore

/// The timers of one client connection, as one value in the shape of the warm path's state
/// machines: events in, the next deadline out, no I/O and no timers of its own. The shell is
/// ``ClientLimitsHandler``.
///
/// At most one timer runs, chosen from where the connection is:
/// - the client takes none of a response Berth has for it: `send` (from when its connection
///   stopped taking bytes);
/// - within a request body, while Berth asks for more of it: `bodyIdle` (from the last byte,
///   or from Berth's asking); a body Berth does not ask for (the container is slow to take
///   it, a pipelined request waits) runs no timer: the client is not at fault;
/// - between requests, nothing of the next one yet: `keepalive` (the first request of a
///   connection: `header`) from when the last response ended;
/// - part of a request head read: `header`, from its first byte, however slowly the rest
///   comes;
/// - a response Berth waits for (the container's or the Worker's): none here; the response
///   timeout is the warm exchange's and the proxy's.
///
/// An upgraded connection (`101 Switching Protocols`) runs none.
struct ClientTimeouts {
    struct Settings: Equatable {
        var header: TimeAmount
        var bodyIdle: TimeAmount
        var keepalive: TimeAmount
        var send: TimeAmount
    }

    enum Expiry: Equatable {
        case header
        case bodyIdle
        case keepalive
        case send
    }

    /// What the shell does when a timer expired.
    enum Verdict: Equatable {
        /// Answer `408 Request Timeout`, then close (nothing of a response went out yet).
        case requestTimeout
        /// Close without a word: between requests, or a response is under way.
        case close
    }

    let settings: Settings
    /// A request head was read and its end not yet.
    private(set) var requestOpen = false
    /// Requests whose response has not ended.
    private(set) var pending = 0
    /// A final response head went out and its end not yet.
    private(set) var responseStarted = false
    private(set) var upgraded = false
    private var sawRequest = false
    private var headStartedAt: NIODeadline?
    private var idleSince: NIODeadline
    private var bodyActivity: NIODeadline
    private var readOutstanding = false
    private var unwritableSince: NIODeadline?

    init(settings: Settings, now: NIODeadline) {
        self.settings = settings
        idleSince = now
        bodyActivity = now
    }

    /// The running timer and when it expires; nil when none runs.
    var deadline: (expiry: Expiry, at: NIODeadline)? {
        if upgraded { return nil }
        if let since = unwritableSince, pending > 0 || responseStarted { return (.send, since + settings.send) }
        if requestOpen { return readOutstanding ? (.bodyIdle, bodyActivity + settings.bodyIdle) : nil }
        guard pending == 0 else { return nil }
        if let headStartedAt { return (.header, headStartedAt + settings.header) }
        return sawRequest ? (.keepalive, idleSince + settings.keepalive) : (.header, idleSince + settings.header)
    }

    /// The timer that expired by `now`, if one did.
    func expired(at now: NIODeadline) -> Expiry? {
        guard let deadline, deadline.at <= now else { return nil }
        return deadline.expiry
    }

    /// What to do about an expired timer.
    func verdict(_ expiry: Expiry) -> Verdict {
        switch expiry {
        case .header: headStartedAt != nil && !responseStarted ? .requestTimeout : .close
        case .bodyIdle: responseStarted ? .close : .requestTimeout
        case .keepalive, .send: .close
        }
    }

    // MARK: Events

    /// Bytes came from the client (before the parser sees them).
    mutating func bytesArrived(now: NIODeadline) {
        readOutstanding = false
        if requestOpen {
            bodyActivity = now
        } else if pending == 0 && headStartedAt == nil {
            headStartedAt = now
        }
    }

    /// Berth asked for more of the client's bytes.
    mutating func readRequested(now: NIODeadline) {
        guard !readOutstanding else { return }
        readOutstanding = true
        if requestOpen { bodyActivity = now }
    }

    mutating func requestHead(now: NIODeadline) {
        requestOpen = true
        sawRequest = true
        pending += 1
        headStartedAt = nil
        bodyActivity = now
    }

    mutating func requestEnd() {
        requestOpen = false
    }

    /// A response head went out; interim ones (`100 Continue`) change nothing.
    mutating func responseHead(status: Int) {
        if status == 101 { upgraded = true }
        if status >= 200 { responseStarted = true }
    }

    mutating func responseEnd(now: NIODeadline) {
        responseStarted = false
        pending = max(0, pending - 1)
        if pending == 0 { idleSince = now }
    }

    mutating func writabilityChanged(_ writable: Bool, now: NIODeadline) {
        if writable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = now
        }
    }
}
