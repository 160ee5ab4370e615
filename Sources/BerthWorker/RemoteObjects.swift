import Berth
import BerthCore
import BerthStorage
import Foundation
import NIOCore

/// A class's objects as a Worker process reaches them: every stub call crosses the link to
/// the server, which runs it on the class there.
struct RemoteClassLink: ObjectClassLink {
    let className: String
    let app: String
    let direct: DirectPath
    /// The schedule callbacks of the class's type in this process, when it has one.
    var callbacks: Set<String>? = nil

    func idFromName(_ name: String) -> ObjectID { ObjectID.fromName(name, className: className, app: app) }
    func object(_ id: ObjectID) -> any ObjectLink {
        RemoteObjectLink(object: WireObject(className: className, id: id), direct: direct, scheduleCallbacks: callbacks)
    }
    func object(named name: String) -> any ObjectLink { object(idFromName(name)) }
}

/// One object, from a Worker process: a `fetch` goes straight to its container under a
/// standing lease when the process holds one (``DirectPath``), through the server otherwise.
struct RemoteObjectLink: ObjectLink {
    let object: WireObject
    let direct: DirectPath
    var scheduleCallbacks: Set<String>? = nil
    var link: WireLink { direct.link }

    var id: ObjectID { object.id }

    /// The object's database, opened here: storage never crosses the link.
    func storage() throws(BerthError) -> ObjectStorage {
        guard let objects = direct.objects else {
            throw BerthError(.unavailable, "this server gives Durable Objects no storage (its Worker link names no objects folder)")
        }
        return objects.storage(className: object.className, objectHex: object.id.hex)
    }

    /// The alarm is the server's: it fires it, even while this process is down.
    func alarm(_ change: AlarmChange) async throws(BerthError) -> Date? {
        var answer: ByteBuffer
        do { answer = try await call(.alarm) { WireAlarm.write(change, into: &$0) } } catch {
            throw BerthError.wrap(error, "the alarm call to the server failed")
        }
        do { return try WireAlarm.readAnswer(from: &answer).get() } catch {
            throw BerthError.wrap(error)
        }
    }

    func fetch(_ request: Request, port: Int?) async -> Response {
        let key = DirectPath.Key(className: object.className, id: object.id.hex, port: port)
        if let response = await direct.fetch(request, key: key) { return response }
        var payload = ByteBuffer()
        payload.writeInteger(WireCallOp.fetch.rawValue)
        object.write(into: &payload)
        payload.writeInteger(Int32(port ?? -1))
        WireRequest(head: request.head, hasBody: !request.body.isEmpty, clientAddress: request.clientAddress).write(into: &payload)
        do {
            let (answer, body) = try await link.exchange(.call, payload: payload, body: request.body) { frame in
                var payload = frame.payload
                return (try? WireResponse.read(from: &payload))?.hasBody ?? false
            }
            var result = answer.payload
            let response = try WireResponse.read(from: &result)
            if let lease = response.lease { direct.add(lease, key: key) }
            var answered = Response(head: response.head, body: response.heldBody.map { link.heldBody($0) } ?? body)
            if let socket = response.webSocket {
                answered.webSocket = WebSocket(.container(RemoteContainerSocket(handle: socket, sockets: direct.sockets, link: link)))
            }
            return answered
        } catch {
            return .error(BerthError.wrap(error, "the call to \(object.className) failed"))
        }
    }

    /// A call without a body whose answer is `callResult`: its payload.
    private func call(_ op: WireCallOp, _ extra: (inout ByteBuffer) -> Void = { _ in }) async throws -> ByteBuffer {
        var payload = ByteBuffer()
        payload.writeInteger(op.rawValue)
        object.write(into: &payload)
        extra(&payload)
        return try await link.exchange(.call, payload: payload) { _ in false }.0.payload
    }

    private func options(_ options: StartOptions) -> (inout ByteBuffer) -> Void {
        let json = (try? JSONEncoder().encode(options)) ?? Data("{}".utf8)
        return { $0.writeBytes(json) }
    }

    func start(_ options: StartOptions) async { _ = try? await call(.start, self.options(options)) }

    func startAndWaitForPorts(_ options: StartOptions) async throws(BerthError) {
        let answer: ByteBuffer
        do { answer = try await call(.startAndWaitForPorts, self.options(options)) } catch { throw BerthError.wrap(error) }
        if answer.readableBytes > 0 { throw BerthError(.startFailed, String(buffer: answer)) }
    }

    func stop() async { _ = try? await call(.stop) }
    func destroy() async { _ = try? await call(.destroy) }

    func state() async -> ContainerStatus {
        guard var answer = try? await call(.state), let text = try? answer.readWireString() else { return .stopped }
        return ContainerStatus(text) ?? .stopped
    }

    func renewActivityTimeout() async { _ = try? await call(.renewActivityTimeout) }
}

/// A container's WebSocket that stays in the server (the Worker process holds its handle):
/// returned in the Worker's response, the server relays it to the client frame by frame;
/// accepted, its messages cross the link (``WireSockets``).
struct RemoteContainerSocket: ContainerWebSocket {
    let handle: UInt32
    let sockets: WireSockets
    let link: WireLink

    func acceptMessages() -> (any WebSocketPeer)? {
        sockets.linked(handle, link: link) { link.send(WireFrame(.socketOpen, stream: handle)) }
    }
}
