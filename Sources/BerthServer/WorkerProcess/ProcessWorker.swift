import Berth
import BerthControlPlane
import BerthCore
import BerthRuntime
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A Worker that runs in a process of its own, as the gateway sees it: each request crosses
/// the link to the process, and the process's stub calls come back over it and run here, on
/// the platform's classes. The process failing ends its requests in flight with 502; the
/// platform is not touched.
public final class ProcessWorker: Worker, Sendable {
    let link: WireLink
    let logger: Logger
    /// How long the Worker may take to answer a request's head.
    let deadline: Duration
    private let readiness: Mutex<Readiness>
    private let platform: Mutex<Platform?>
    private let nextRequest = Atomic<UInt64>(0)
    /// Requests whose response has not ended yet.
    let flights = Flights()
    /// Containers' WebSockets the process's calls opened, by call, until its response takes
    /// them (or 30 s pass and they close).
    private let sockets = Mutex<[UInt32: Berth.WebSocket]>([:])
    /// Containers' response bodies to the process's calls, by call, until the process reads
    /// one (`pull`) or returns it untouched in its response (or 30 s pass and it is dropped).
    private let heldBodies = Mutex<[UInt32: Body]>([:])
    private let prefix = Hex.random(bytes: 3)
    /// Standing leases granted to the process, by their wire id.
    private let leases = Mutex(Leases())
    /// Requests the process sent under standing leases (what it reported).
    private let direct = Atomic<Int>(0)
    /// WebSockets whose messages cross the link: the Worker's `WebSocketPair`s, containers'
    /// sockets it reads itself.
    private let linkSockets = WireSockets()
    /// The process's stub calls being answered, by object.
    private let calls = Mutex<[WireObject: Int]>([:])

    private struct Leases {
        var nextID: UInt32 = 0
        var granted: [UInt32: Granted] = [:]
        /// A granted lease's id by object and port, so that one is granted per port.
        var byTarget: [String: UInt32] = [:]
        /// Revocations waiting for the process to give the lease up.
        var revoking: [UInt32: CheckedContinuation<Void, Never>] = [:]
        var closed = false
    }

    private struct Granted {
        var lease: StandingLease
        var object: WireObject
        var target: String
        /// Whether the process said it has requests in flight under it.
        var busy = false
    }

    private enum Readiness {
        case waiting([CheckedContinuation<WireReady, any Error>])
        case ready(WireReady)
        case failed(BerthError)
    }

    /// Speaks to the process at the other end of `channel`'s socket. Put ``handlers`` on the
    /// channel before it reads.
    init(channel: any Channel, logger: Logger, deadline: Duration, exitReason: @escaping @Sendable () -> String) {
        self.logger = logger
        self.deadline = deadline
        self.readiness = Mutex(.waiting([]))
        self.platform = Mutex(nil)
        let box = LinkBox()
        self.link = WireLink(
            channel: channel, opensOdd: false,
            closedError: { BerthError(.containerUnreachable, "the Worker process \(exitReason()); the request in flight ended") },
            onOpen: { frame, link in box.worker?.opened(frame, link: link) }
        )
        box.worker = self
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.settleReadiness(.failure(BerthError(.unavailable, "the Worker process \(exitReason()) before it was ready")))
            self?.dropLeases()
            self?.linkSockets.closeAll()
        }
    }

    /// A Worker process's link, on the connected socket `descriptor` (the server's end of a
    /// socket pair whose other end the process holds).
    public static func connect(
        descriptor: Int32, logger: Logger, deadline: Duration, exitReason: @escaping @Sendable () -> String = { "closed its link" }
    ) async throws -> ProcessWorker {
        let made = Mutex<ProcessWorker?>(nil)
        _ = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let worker = ProcessWorker(channel: channel, logger: logger, deadline: deadline, exitReason: exitReason)
                made.withLock { $0 = worker }
                return channel.pipeline.addHandlers(worker.handlers)
            }
            .withConnectedSocket(descriptor)
            .get()
        return made.withLock { $0 }!
    }

    /// Whether the link to the process is open: a closed one means the process is ending.
    var isLinked: Bool { link.channel.isActive }

    /// The frame decoder and the link's handler.
    var handlers: [any ChannelHandler] { [ByteToMessageHandler(WireFrameDecoder()), link.handler] }

    /// Says hello with `platform`'s bindings, serves it, and returns the properties of the
    /// Worker's Container classes once it is ready.
    public func start(serving platform: Platform, secrets: [String: String] = [:]) async throws -> [String: ContainerProperties] {
        serve(platform)
        let hello = WireHello(
            app: platform.classes.values.first?.app ?? platform.config.name, deploymentID: platform.deploymentID,
            bindings: platform.bindings.mapValues(\.className), vars: platform.config.vars, secrets: secrets,
            responseTimeout: platform.config.berth.limits.responseTimeout, objectsFolder: platform.registry.objects?.folder
        )
        return try await start(hello: hello)
    }

    /// Says hello and returns the properties of the Worker's Container classes once it is
    /// ready. Its stubs' calls wait for ``serve(_:)``.
    func start(hello: WireHello) async throws -> [String: ContainerProperties] {
        link.send(try WireFrame.json(.hello, hello))
        return try await withCheckedThrowingContinuation { waiter in
            let now: Result<WireReady, any Error>? = readiness.withLock { state in
                switch state {
                case .waiting(var waiters):
                    waiters.append(waiter)
                    state = .waiting(waiters)
                    return nil
                case .ready(let ready): return .success(ready)
                case .failed(let error): return .failure(error)
                }
            }
            if let now { waiter.resume(with: now) }
        }.containers
    }

    /// Serves the classes of `platform` from now on (a deployment that keeps this process).
    func serve(_ platform: Platform) {
        self.platform.withLock { $0 = platform }
    }

    private func settleReadiness(_ result: Result<WireReady, BerthError>) {
        let waiters = readiness.withLock { state -> [CheckedContinuation<WireReady, any Error>] in
            guard case .waiting(let waiters) = state else { return [] }
            switch result {
            case .success(let ready): state = .ready(ready)
            case .failure(let error): state = .failed(error)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    public func fetch(_ request: Request, env: Env) async throws -> Response {
        let token = flights.begin()
        let id = "\(prefix)-\(nextRequest.wrappingAdd(1, ordering: .relaxed).newValue)"
        var payload = ByteBuffer()
        WireRequest(head: request.head, hasBody: !request.body.isEmpty, clientAddress: request.clientAddress, requestID: id).write(into: &payload)
        let frame = payload
        let link = self.link
        let deadline = self.deadline
        do {
            let (answer, streamed) = try await link.exchange(
                .request, payload: frame, body: request.body, deadline: deadline,
                timedOut: {
                    BerthError(.timeout, "the Worker did not answer within \(DurationText.format(deadline)) (request \(id)); the limit is berth.limits.response_timeout + berth.instance_get_timeout")
                }
            ) { frame in
                var payload = frame.payload
                return (try? WireResponse.read(from: &payload))?.hasBody ?? false
            }
            var result = answer.payload
            let response = try WireResponse.read(from: &result)
            var body = streamed
            if let handle = response.heldBody {
                guard let held = heldBodies.withLock({ $0.removeValue(forKey: handle) }) else {
                    throw BerthError(.workerFailed, "the Worker returned a container's body that is no longer held (request \(id))")
                }
                body = held
            }
            var answered = Response(head: response.head, body: body.isEmpty ? body : Body(stream: HoldingBody(base: body, token: token)))
            if let handle = response.webSocket {
                guard let socket = sockets.withLock({ $0.removeValue(forKey: handle) }) else {
                    throw BerthError(.workerFailed, "the Worker returned a WebSocket it no longer holds (request \(id))")
                }
                answered.webSocket = socket
            }
            if response.pairSocket { answered.webSocket = relayPair(stream: answer.stream, token: token) }
            return answered
        } catch {
            let failure = BerthError.wrap(error, "the Worker failed")
            logger.error("the Worker's request failed", metadata: ["request": "\(id)", "error": "\(failure.message)"])
            return .error(failure)
        }
    }

    /// A stream the process opened (on the event loop).
    fileprivate func opened(_ frame: WireFrame, link: WireLink) {
        switch frame.kind {
        case .ready:
            do {
                settleReadiness(.success(try frame.decodeJSON(WireReady.self)))
            } catch {
                settleReadiness(.failure(BerthError(.workerFailed, "the Worker's ready message was unreadable: \(error)")))
            }
        case .call:
            var payload = frame.payload
            guard let opByte: UInt8 = payload.readInteger(), let op = WireCallOp(rawValue: opByte),
                  let object = try? WireObject.read(from: &payload)
            else {
                link.send(.reset(frame.stream, "the server could not read the call"))
                return
            }
            var request: WireRequest?
            var port: Int?
            if op == .fetch {
                guard let wirePort: Int32 = payload.readInteger(), let wire = try? WireRequest.read(from: &payload) else {
                    link.send(.reset(frame.stream, "the server could not read the call's request"))
                    return
                }
                port = wirePort < 0 ? nil : Int(wirePort)
                request = wire
            }
            let body = request?.hasBody == true ? link.receiveBody(frame.stream) : Body.empty
            let stream = frame.stream
            let options = payload
            Task { await self.perform(op, on: object, request: request, body: body, port: port, options: options, stream: stream) }
        case .socketMessage, .socketClose:
            linkSockets.received(frame, server: true)
        case .socketOpen:
            // The Worker reads a container's socket itself: its messages cross the link.
            let held = sockets.withLock { $0.removeValue(forKey: frame.stream) }
            if case .container(let container)? = held?.backend, let peer = container.acceptMessages() {
                linkSockets.attach(frame.stream, local: peer, link: link)
            } else {
                linkSockets.abandon(frame.stream, link: link, code: 1011, reason: "the container's WebSocket is no longer held (30 s) or was relayed")
            }
        case .leaseBusy, .leaseIdle:
            leaseInFlight(frame.stream, busy: frame.kind == .leaseBusy)
        case .leaseReport:
            var payload = frame.payload
            guard let status: UInt16 = payload.readInteger(), let micros: UInt64 = payload.readInteger() else { return }
            direct.wrappingAdd(1, ordering: .relaxed)
            leases.withLock { $0.granted[frame.stream]?.lease }?.report(status: Int(status), duration: .microseconds(Int64(micros)))
        case .leaseGivenUp:
            leaseGivenUp(frame.stream)
        case .pull:
            guard let body = heldBodies.withLock({ $0.removeValue(forKey: frame.stream) }) else {
                link.send(.reset(frame.stream, "the container's body was read already, or held too long (30 s)"))
                return
            }
            Task { await link.send(body, on: frame.stream) }
        default:
            link.send(.reset(frame.stream, "the server does not take \(frame.kind) frames from a Worker"))
        }
    }

    /// Runs a stub's call on the platform's class and answers it.
    private func perform(
        _ op: WireCallOp, on object: WireObject, request: WireRequest?, body: Body, port: Int?, options: ByteBuffer, stream: UInt32
    ) async {
        guard let platform = platform.withLock({ $0 }), let containerClass = platform.classes[object.className] else {
            link.send(.reset(stream, "this deployment has no container class \(object.className)"))
            return
        }
        calls.withLock { $0[object, default: 0] += 1 }
        defer {
            calls.withLock { calls in
                calls[object, default: 1] -= 1
                if calls[object] == 0 { calls[object] = nil }
            }
        }
        let target = LocalClassLink(containerClass: containerClass, proxy: platform.registry.proxy).object(object.id)
        var answer = ByteBuffer()
        switch op {
        case .fetch:
            guard let request else { return }
            let forwarded = Request(head: request.head, body: body, clientAddress: request.clientAddress)
            let response = await target.fetch(forwarded, port: port)
            // The next requests to this port go from the process straight to the container.
            let lease = response.webSocket == nil && !forwarded.isWebSocketUpgrade
                ? grant(containerClass.get(object.id), object: object, port: port) : nil
            var socket: UInt32?
            if let webSocket = response.webSocket {
                socket = stream
                sockets.withLock { $0[stream] = webSocket }
                // A socket the Worker never returns closes (and frees its container's lease).
                link.channel.eventLoop.scheduleTask(in: .seconds(30)) { [weak self] in
                    _ = self?.sockets.withLock { $0.removeValue(forKey: stream) }
                }
            }
            // The body stays here until the Worker reads it or hands it back.
            var held: UInt32?
            if !response.body.isEmpty {
                held = stream
                heldBodies.withLock { $0[stream] = response.body }
                link.channel.eventLoop.scheduleTask(in: .seconds(30)) { [weak self] in
                    _ = self?.heldBodies.withLock { $0.removeValue(forKey: stream) }
                }
            }
            WireResponse(head: response.head, hasBody: false, webSocket: socket, heldBody: held, lease: lease).write(into: &answer)
            await link.answer(stream, .callResult, payload: answer)
            return
        case .start:
            await target.start(Self.options(options))
        case .startAndWaitForPorts:
            do throws(BerthError) { try await target.startAndWaitForPorts(Self.options(options)) } catch { answer.writeString(error.message) }
        case .stop: await target.stop()
        case .destroy: await target.destroy()
        case .state: answer.writeWireString((await target.state()).description)
        case .renewActivityTimeout: await target.renewActivityTimeout()
        case .alarm:
            var payload = options
            let result: Result<Date?, BerthError>
            do throws(BerthError) {
                let change: AlarmChange
                do { change = try WireAlarm.readChange(from: &payload) } catch { throw BerthError(.invalidInput, "the alarm call was unreadable: \(error)") }
                result = .success(try await target.alarm(change))
            } catch {
                result = .failure(error)
            }
            WireAlarm.write(result, into: &answer)
        }
        await link.answer(stream, .callResult, payload: answer)
    }

    private static func options(_ payload: ByteBuffer) -> StartOptions {
        (try? JSONDecoder().decode(StartOptions.self, from: Data(payload.readableBytesView))) ?? StartOptions()
    }

    /// The client end of a `WebSocketPair` the process answered request `stream` with: once
    /// the client's connection carries it, its messages and the process's cross the link.
    /// The request counts as in flight until the socket closes.
    private func relayPair(stream: UInt32, token: Flights.Token) -> Berth.WebSocket {
        let pair = WebSocketPair()
        let (link, sockets) = (self.link, linkSockets)
        if case .pairServer(let pairLink) = pair.server.backend {
            Task {
                if let endpoint = await pairLink.endpoint() {
                    sockets.attach(stream, local: endpoint, link: link, holding: token)
                } else {
                    sockets.abandon(stream, link: link, code: 1011, reason: "the Worker's 101 did not reach the client")
                }
            }
        }
        return pair.client
    }

    /// Whether the process has a request of `object` in flight: a call being answered, or
    /// requests under a standing lease on its container.
    package func hasInFlight(_ object: WireObject) -> Bool {
        if calls.withLock({ $0[object] != nil }) { return true }
        return leases.withLock { $0.granted.values.contains { $0.busy && $0.object == object } }
    }

    // MARK: Standing leases

    /// Requests the process sent to containers itself, under standing leases.
    public var directRequests: Int { direct.load(ordering: .relaxed) }

    /// Standing leases the process holds now.
    public var leasesHeld: Int { leases.withLock { $0.granted.count } }

    /// A standing lease on the container of `controller` for the process, when it is healthy
    /// and the engine's endpoints are trusted: the one it holds for that port already, or a
    /// new one.
    private func grant(_ controller: ContainerController, object: WireObject, port: Int?) -> WireLease? {
        let target = "\(object.className)/\(object.id.hex)/\(port.map(String.init) ?? "default")"
        // The lease held for this port already, or the id of a new one.
        let (known, id) = leases.withLock { leases -> (WireLease?, UInt32) in
            if let id = leases.byTarget[target], let granted = leases.granted[id] {
                return (WireLease(id: id, host: granted.lease.endpoint.host, port: granted.lease.endpoint.port), id)
            }
            leases.nextID &+= 1
            if leases.nextID == 0 { leases.nextID = 1 }
            return (nil, leases.nextID)
        }
        if let known { return known }
        guard let lease = controller.standingLease(port: port, revoke: { [weak self] drain in await self?.revoke(id, drain: drain) }) else {
            return nil
        }
        guard lease.mayConnect else {
            lease.giveUp()
            return nil
        }
        let kept = leases.withLock { leases -> Bool in
            guard !leases.closed, leases.byTarget[target] == nil else { return false }
            leases.granted[id] = Granted(lease: lease, object: object, target: target)
            leases.byTarget[target] = id
            return true
        }
        guard kept else {
            lease.giveUp()
            return nil
        }
        return WireLease(id: id, host: lease.endpoint.host, port: lease.endpoint.port)
    }

    /// The process's requests under lease `id` went from none to some, or back.
    private func leaseInFlight(_ id: UInt32, busy: Bool) {
        let lease: StandingLease? = leases.withLock { leases in
            guard var granted = leases.granted[id], granted.busy != busy else { return nil }
            granted.busy = busy
            leases.granted[id] = granted
            return granted.lease
        }
        guard let lease else { return }
        lease.inFlight(busy)
        // Sight of the engine lost: no new connection may be opened to its endpoints.
        if busy, !lease.mayConnect {
            Task { await revoke(id, drain: false) }
        }
    }

    /// The gate takes lease `id` back: the process is told, and this returns once it has
    /// given the lease up (`drain`: after its requests under it ended) or the link closed.
    private func revoke(_ id: UInt32, drain: Bool) async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let send = leases.withLock { leases -> Bool in
                guard let granted = leases.granted.removeValue(forKey: id), !leases.closed else { return false }
                leases.byTarget[granted.target] = nil
                leases.revoking[id] = waiter
                return true
            }
            guard send else {
                waiter.resume()
                return
            }
            var payload = ByteBuffer()
            payload.writeWireBool(drain)
            link.send(WireFrame(.revoke, stream: id, payload: payload))
        }
    }

    /// The process gave lease `id` up: revoked, or unasked.
    private func leaseGivenUp(_ id: UInt32) {
        let (waiter, granted) = leases.withLock { leases in
            let granted = leases.granted.removeValue(forKey: id)
            if let granted { leases.byTarget[granted.target] = nil }
            return (leases.revoking.removeValue(forKey: id), granted)
        }
        if let granted {
            if granted.busy { granted.lease.inFlight(false) }
            granted.lease.giveUp()
        }
        waiter?.resume()
    }

    /// The link closed: the process holds no lease any more, and revocations waiting for it
    /// end.
    private func dropLeases() {
        let (granted, waiters) = leases.withLock { leases in
            leases.closed = true
            defer {
                leases.granted = [:]
                leases.byTarget = [:]
                leases.revoking = [:]
            }
            return (Array(leases.granted.values), Array(leases.revoking.values))
        }
        for held in granted {
            if held.busy { held.lease.inFlight(false) }
            held.lease.giveUp()
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Runs a hook of `object` in the process; the answer of `onActivityExpired` (true when
    /// the process cannot answer: the container stops as it would without a hook).
    func runHook(_ hook: WireHook, of object: WireObject) async -> Bool {
        (try? await runHookAnswer(hook, of: object).ok) ?? true
    }

    /// The hooks of object `id` of `className`, run in this process (what a supervisor's
    /// hooks do for the process running now; for a process used on its own, as in tests).
    public func hooks(className: String, id: ObjectID) -> any ContainerHooks {
        ForwardedHooks(object: WireObject(className: className, id: id), runner: self)
    }

    /// Runs the object's alarm here: thrown as the process's error when its alarm threw,
    /// as `.unavailable` when the link failed.
    func runAlarm(_ info: AlarmInfo, of object: WireObject) async throws(BerthError) {
        let answer: (ok: Bool, message: String?)
        do { answer = try await runHookAnswer(.alarm(info), of: object) } catch {
            throw BerthError(.unavailable, "the Worker process's link failed: \(BerthError.wrap(error).message)")
        }
        if !answer.ok { throw BerthError(.workerFailed, answer.message ?? "the alarm threw") }
    }

    /// Runs `hook` and returns the process's answer: its result, and the message of an error
    /// it threw (an alarm's). Throws when the link fails on the way.
    func runHookAnswer(_ hook: WireHook, of object: WireObject) async throws -> (ok: Bool, message: String?) {
        var payload = ByteBuffer()
        object.write(into: &payload)
        hook.write(into: &payload)
        var answer = try await link.exchange(.hook, payload: payload) { _ in false }.0.payload
        let ok = (try? answer.readWireBool()) ?? true
        return (ok, ok ? nil : try? answer.readWireString())
    }
}

/// Counts requests in flight in a Worker process: a token per request, returned when its
/// response has ended (or was dropped), so that a retired process is stopped only once idle.
final class Flights: Sendable {
    private let count = Atomic<Int>(0)

    final class Token: Sendable {
        let flights: Flights
        init(_ flights: Flights) { self.flights = flights }
        deinit { flights.count.wrappingSubtract(1, ordering: .relaxed) }
    }

    func begin() -> Token {
        count.wrappingAdd(1, ordering: .relaxed)
        return Token(self)
    }

    var inFlight: Int { count.load(ordering: .relaxed) }
}

/// A response body that holds its request's ``Flights/Token`` until it is done with.
struct HoldingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: Body
    let token: Flights.Token

    func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), token: token) }

    struct Iterator: AsyncIteratorProtocol {
        var base: Body.AsyncIterator
        var token: Flights.Token?

        mutating func next() async throws -> ByteBuffer? {
            let chunk = try await base.next()
            if chunk == nil { token = nil }
            return chunk
        }
    }
}

/// Lets the link's frame handler reach the worker made after it. Written once, in `init`.
private final class LinkBox: @unchecked Sendable {
    weak var worker: ProcessWorker?
}

extension ProcessWorker: HookRunner {}
