@_exported import Berth
import BerthCore
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Runs a Worker as a process of its own, which `berth dev` and `berth serve` start and
/// supervise: requests come in over the socket the server hands it, and its stubs and its
/// Container classes' hooks reach the platform over the same socket.
///
/// ```swift
/// import BerthWorker
///
/// @main struct Main {
///     static func main() async throws {
///         try await WorkerProcess.run(MyWorker(), containers: [MyContainer.self])
///     }
/// }
/// ```
public enum WorkerProcess {
    /// The argument that names the link's descriptor: `--berth-link-fd 3`.
    public static let descriptorArgument = WireFrame.descriptorArgument

    /// Serves `worker` until the server closes the link. `containers`: the Container classes
    /// by their type's name (the configuration's `class_name`). Run with `--berth-describe`,
    /// it prints the classes' properties as JSON and returns (what a deployment records).
    public static func run(_ worker: some Worker, containers: [any Container.Type] = []) async throws {
        let types = Dictionary(containers.map { (String(describing: $0), $0) }) { $1 }
        let ready = WireReady(containers: types.mapValues { $0.properties })
        if CommandLine.arguments.contains("--berth-describe") {
            print(String(decoding: try JSONEncoder().encode(ready), as: UTF8.self))
            return
        }
        // The server reads the Worker's output line by line: each line goes out as it is written.
        lineBufferStandardOutput()
        let arguments = CommandLine.arguments
        guard let flag = arguments.firstIndex(of: descriptorArgument), flag + 1 < arguments.count, let descriptor = Int32(arguments[flag + 1]) else {
            FileHandle.standardError.write(Data("This program is a Berth Worker: `berth dev` or `berth serve` runs it (with \(descriptorArgument)).\n".utf8))
            exit(2)
        }
        try await serve(worker, containers: containers, descriptor: descriptor)
    }

    /// Serves `worker` over the connected socket `descriptor` until the server closes it.
    public static func serve(_ worker: some Worker, containers: [any Container.Type] = [], descriptor: Int32) async throws {
        let types = Dictionary(containers.map { (String(describing: $0), $0) }) { $1 }
        let session = WorkerSession(worker: worker, types: types, ready: WireReady(containers: types.mapValues { $0.properties }))
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let link = WireLink(
                    channel: channel, opensOdd: true,
                    closedError: { BerthError(.unavailable, "the server closed the Worker's link") },
                    onOpen: { frame, link in session.opened(frame, link: link) }
                )
                return channel.pipeline.addHandlers([ByteToMessageHandler(WireFrameDecoder()), link.handler])
            }
            .withConnectedSocket(descriptor)
            .get()
        try await channel.closeFuture.get()
    }
}

/// Makes C's `stdout` (what `print` writes to) line-buffered, so that the server, which reads
/// it through a pipe, sees each line as it is printed. Found by its symbol: the variable
/// itself is not concurrency-safe to name.
private func lineBufferStandardOutput() {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "stdout") else { return }
    let file = symbol.assumingMemoryBound(to: UnsafeMutablePointer<FILE>?.self).pointee
    setvbuf(file, nil, _IOLBF, 0)
}

/// A Worker process's state: the Worker, its `env` once the server said hello, and one value
/// of a Container class per object whose hooks run.
final class WorkerSession<W: Worker>: Sendable {
    let worker: W
    let types: [String: any Container.Type]
    let ready: WireReady
    private let env = Mutex<(Env, DirectPath)?>(nil)
    private let instances = Mutex<[WireObject: ContainerObject]>([:])

    init(worker: W, types: [String: any Container.Type], ready: WireReady) {
        self.worker = worker
        self.types = types
        self.ready = ready
    }

    /// A stream the server opened (on the event loop).
    func opened(_ frame: WireFrame, link: WireLink) {
        var payload = frame.payload
        switch frame.kind {
        case .hello:
            guard let hello = try? frame.decodeJSON(WireHello.self) else {
                log("the server's hello was unreadable; this Worker's SDK and the server differ")
                link.close()
                return
            }
            guard hello.protocolVersion == WireHello.currentProtocol else {
                log("the server speaks the Worker link's version \(hello.protocolVersion.map(String.init) ?? "1"), this Worker's SDK version \(WireHello.currentProtocol): rebuild the Worker on the SDK installed with this berth")
                exit(3)
            }
            let direct = DirectPath(link: link, responseTimeout: hello.responseTimeout, objectsFolder: hello.objectsFolder)
            let namespaces = hello.bindings.mapValues { className in
                DurableObjectNamespace(link: RemoteClassLink(
                    className: className, app: hello.app, direct: direct, callbacks: types[className].map { ContainerObject.callbackNames($0) }
                ))
            }
            env.withLock { $0 = (Env(namespaces: namespaces, vars: hello.vars, secrets: hello.secrets), direct) }
            if let frame = try? WireFrame.json(.ready, ready) { link.send(frame) }
        case .request:
            guard let wire = try? WireRequest.read(from: &payload), let (env, direct) = env.withLock({ $0 }) else {
                link.send(.reset(frame.stream, "the Worker could not read the request"))
                return
            }
            var request = Request(head: wire.head, body: wire.hasBody ? link.receiveBody(frame.stream) : .empty, clientAddress: wire.clientAddress)
            request.headers[.containerTargetPort] = nil
            let stream = frame.stream
            Task(executorPreference: direct.forwarder.executor) { await self.serve(request, id: wire.requestID, env: env, stream: stream, link: link) }
        case .hook:
            guard let object = try? WireObject.read(from: &payload), let hook = try? WireHook.read(from: &payload), let direct = env.withLock({ $0?.1 }) else {
                link.send(.reset(frame.stream, "the Worker could not read the hook"))
                return
            }
            let stream = frame.stream
            Task(executorPreference: direct.forwarder.executor) { await self.runHook(hook, of: object, stream: stream, link: link) }
        case .socketMessage, .socketClose:
            env.withLock { $0?.1 }?.sockets.received(frame, server: false)
        case .revoke:
            let drain = (try? payload.readWireBool()) ?? false
            if let direct = env.withLock({ $0?.1 }) {
                direct.revoke(frame.stream, drain: drain)
            } else {
                link.send(WireFrame(.leaseGivenUp, stream: frame.stream))
            }
        default:
            link.send(.reset(frame.stream, "the Worker does not take \(frame.kind) frames"))
        }
    }

    private func serve(_ request: Request, id: String, env: Env, stream: UInt32, link: WireLink) async {
        let response: Response
        do {
            response = try await worker.fetch(request, env: env)
        } catch {
            let failure = BerthError.wrap(error, "the Worker threw")
            log("request \(id): the Worker threw: \(failure.message)")
            response = .error(BerthError(.workerFailed, "the Worker threw: \(failure.message) (request \(id))"))
        }
        var socket: UInt32?
        var pair = false
        switch response.webSocket?.backend {
        case nil: break
        case .container(let container as RemoteContainerSocket)?:
            socket = container.handle
        case .pairClient(let pairLink)?:
            // The pair's messages cross the link on this request's stream.
            guard let direct = self.env.withLock({ $0?.1 }) else { break }
            pairLink.attach(direct.sockets.linked(stream, link: link))
            pair = true
        default:
            log("request \(id): the Worker returned a WebSocket that is neither a container's nor a WebSocketPair's client end")
            let refusal = Response.error(BerthError(.workerFailed, "the Worker returned a WebSocket that cannot reach the client: return a container's socket unaccepted, or pair.client (request \(id))"))
            await answer(refusal, socket: nil, stream: stream, link: link)
            return
        }
        await answer(response, socket: socket, pair: pair, stream: stream, link: link)
    }

    private func answer(_ response: Response, socket: UInt32?, pair: Bool = false, stream: UInt32, link: WireLink) async {
        var payload = ByteBuffer()
        if pair {
            WireResponse(head: response.head, hasBody: false, pairSocket: true).write(into: &payload)
            await link.answer(stream, .response, payload: payload)
            return
        }
        // A container's body returned untouched stays in the server, which sends it itself.
        if let held = response.body.held, held.take() {
            WireResponse(head: response.head, hasBody: false, webSocket: socket, heldBody: held.id).write(into: &payload)
            await link.answer(stream, .response, payload: payload)
            return
        }
        WireResponse(head: response.head, hasBody: !response.body.isEmpty, webSocket: socket).write(into: &payload)
        await link.answer(stream, .response, payload: payload, body: response.body)
    }

    private func runHook(_ hook: WireHook, of object: WireObject, stream: UInt32, link: WireLink) async {
        var answer = true
        var failure: String?
        if let hooks = hooks(for: object, link: link) {
            switch hook {
            case .alarm(let info):
                do { try await hooks.onAlarm(info) } catch {
                    answer = false
                    failure = "\(error)"
                }
            case .start: await hooks.onStart()
            case .stop(let code, let reason):
                await hooks.onStop(exitCode: code, reason: reason)
                instances.withLock { _ = $0.removeValue(forKey: object) }
            case .error(let message): await hooks.onError(BerthError(.startFailed, message))
            case .activityExpired: answer = await hooks.onActivityExpired()
            }
        }
        var payload = ByteBuffer()
        payload.writeWireBool(answer)
        if let failure { payload.writeWireString(failure) }
        await link.answer(stream, .hookDone, payload: payload)
    }

    /// The object's value of its Container class, made the first time one of its hooks runs.
    private func hooks(for object: WireObject, link: WireLink) -> ContainerObject? {
        guard let type = types[object.className], let direct = env.withLock({ $0?.1 }) else { return nil }
        return instances.withLock { instances in
            if let known = instances[object] { return known }
            let link = RemoteObjectLink(object: object, direct: direct, scheduleCallbacks: ContainerObject.callbackNames(type))
            let made = ContainerObject.make(type, className: object.className, link: link)
            instances[object] = made
            return made
        }
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
