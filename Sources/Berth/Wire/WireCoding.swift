public import BerthCore
import Foundation
public import HTTPTypes
public import NIOCore

/// The payloads of the Worker link's frames. Heads are binary (they cross for every request);
/// the once-per-process messages are JSON.
extension ByteBuffer {
    package mutating func writeWireString(_ text: String) {
        writeInteger(UInt32(text.utf8.count))
        writeString(text)
    }

    package mutating func readWireString() throws(WireError) -> String {
        guard let length: UInt32 = readInteger(), let text = readString(length: Int(length)) else {
            throw .malformed("a cut string")
        }
        return text
    }

    package mutating func writeWireOptional(_ text: String?) {
        writeInteger(UInt8(text == nil ? 0 : 1))
        if let text { writeWireString(text) }
    }

    package mutating func readWireOptional() throws(WireError) -> String? {
        guard let flag: UInt8 = readInteger() else { throw .malformed("a cut field") }
        return flag == 0 ? nil : try readWireString()
    }

    package mutating func writeWireFields(_ fields: HTTPFields) {
        writeInteger(UInt32(fields.count))
        for field in fields {
            writeWireString(field.name.rawName)
            writeWireString(field.value)
        }
    }

    package mutating func readWireFields() throws(WireError) -> HTTPFields {
        guard let count: UInt32 = readInteger() else { throw .malformed("a cut header count") }
        var fields = HTTPFields()
        fields.reserveCapacity(Int(min(count, 256)))
        for _ in 0..<count {
            let name = try readWireString()
            let value = try readWireString()
            guard let fieldName = HTTPField.Name(name) else { throw .malformed("the header name \(name.debugDescription)") }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return fields
    }

    package mutating func writeWireBool(_ value: Bool) { writeInteger(UInt8(value ? 1 : 0)) }

    package mutating func readWireBool() throws(WireError) -> Bool {
        guard let byte: UInt8 = readInteger() else { throw .malformed("a cut flag") }
        return byte != 0
    }
}

/// A request as it crosses the link: the head, whether a body follows, the client's address,
/// and the id the server logs it under.
package struct WireRequest: Sendable {
    package var head: HTTPRequest
    package var hasBody: Bool
    package var clientAddress: String?
    package var requestID: String

    package init(head: HTTPRequest, hasBody: Bool, clientAddress: String?, requestID: String = "") {
        self.head = head
        self.hasBody = hasBody
        self.clientAddress = clientAddress
        self.requestID = requestID
    }

    package func write(into buffer: inout ByteBuffer) {
        buffer.writeWireString(head.method.rawValue)
        buffer.writeWireOptional(head.scheme)
        buffer.writeWireOptional(head.authority)
        buffer.writeWireOptional(head.path)
        buffer.writeWireFields(head.headerFields)
        buffer.writeWireBool(hasBody)
        buffer.writeWireOptional(clientAddress)
        buffer.writeWireString(requestID)
    }

    package static func read(from buffer: inout ByteBuffer) throws(WireError) -> WireRequest {
        let methodText = try buffer.readWireString()
        guard let method = HTTPRequest.Method(methodText) else { throw .malformed("the method \(methodText.debugDescription)") }
        let scheme = try buffer.readWireOptional()
        let authority = try buffer.readWireOptional()
        let path = try buffer.readWireOptional()
        let fields = try buffer.readWireFields()
        let hasBody = try buffer.readWireBool()
        let client = try buffer.readWireOptional()
        let requestID = try buffer.readWireString()
        return WireRequest(
            head: HTTPRequest(method: method, scheme: scheme, authority: authority, path: path, headerFields: fields), hasBody: hasBody,
            clientAddress: client, requestID: requestID
        )
    }
}

/// A response head as it crosses the link, whether a body follows, and the container's
/// WebSocket it carries: a socket stays in the server (by the id of the call that opened
/// it), so a Worker that returns it unaccepted has it relayed there, frame by frame.
package struct WireResponse: Sendable {
    package var head: HTTPResponse
    package var hasBody: Bool
    package var webSocket: UInt32?
    /// A body that stays in the server: from the server, the call's body, which the Worker
    /// pulls when it reads it (`pull`); from the Worker, that body returned untouched, which
    /// the server sends the client itself. No body frames follow either way.
    package var heldBody: UInt32?
    /// From the server, with a call's answer: a standing lease on the object's container,
    /// under which the Worker sends its next requests to it itself.
    package var lease: WireLease?
    /// From the Worker: its 101 carries a `WebSocketPair`, whose messages cross the link as
    /// `socketMessage` frames of the request's stream.
    package var pairSocket: Bool

    package init(
        head: HTTPResponse, hasBody: Bool, webSocket: UInt32? = nil, heldBody: UInt32? = nil, lease: WireLease? = nil, pairSocket: Bool = false
    ) {
        self.head = head
        self.hasBody = hasBody
        self.webSocket = webSocket
        self.heldBody = heldBody
        self.lease = lease
        self.pairSocket = pairSocket
    }

    package func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt16(head.status.code))
        buffer.writeWireString(head.status.reasonPhrase)
        buffer.writeWireFields(head.headerFields)
        buffer.writeWireBool(hasBody)
        buffer.writeInteger(webSocket ?? 0)
        buffer.writeInteger(heldBody ?? 0)
        buffer.writeWireBool(lease != nil)
        lease?.write(into: &buffer)
        buffer.writeWireBool(pairSocket)
    }

    package static func read(from buffer: inout ByteBuffer) throws(WireError) -> WireResponse {
        guard let code: UInt16 = buffer.readInteger(), (100...999).contains(code) else { throw .malformed("a status code") }
        let reason = try buffer.readWireString()
        let fields = try buffer.readWireFields()
        let hasBody = try buffer.readWireBool()
        guard let socket: UInt32 = buffer.readInteger(), let held: UInt32 = buffer.readInteger() else { throw .malformed("a cut response") }
        let lease = try buffer.readWireBool() ? try WireLease.read(from: &buffer) : nil
        let pairSocket = try buffer.readWireBool()
        return WireResponse(
            head: HTTPResponse(status: .init(code: Int(code), reasonPhrase: reason), headerFields: fields), hasBody: hasBody,
            webSocket: socket == 0 ? nil : socket, heldBody: held == 0 ? nil : held, lease: lease, pairSocket: pairSocket
        )
    }
}

/// A standing lease the server grants a Worker process on one object's container port: the
/// Worker forwards to `host`:`port` itself (the forwarding policy, `response_timeout`),
/// tells the server when it has requests in flight under it and what each answered, and
/// stops using it when the server revokes it (``WireFrame/Kind/revoke``).
package struct WireLease: Sendable, Hashable {
    /// The lease's stream id in the lease frames.
    package var id: UInt32
    package var host: String
    package var port: Int

    package init(id: UInt32, host: String, port: Int) {
        self.id = id
        self.host = host
        self.port = port
    }

    package func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(id)
        buffer.writeWireString(host)
        buffer.writeInteger(UInt16(port))
    }

    package static func read(from buffer: inout ByteBuffer) throws(WireError) -> WireLease {
        guard let id: UInt32 = buffer.readInteger(), id != 0 else { throw .malformed("a lease id") }
        let host = try buffer.readWireString()
        guard let port: UInt16 = buffer.readInteger() else { throw .malformed("a cut lease") }
        return WireLease(id: id, host: host, port: Int(port))
    }
}

/// An object a call or hook is about: its class and its id (with the name it came from).
package struct WireObject: Sendable, Hashable {
    package var className: String
    package var id: ObjectID

    package init(className: String, id: ObjectID) {
        self.className = className
        self.id = id
    }

    package func write(into buffer: inout ByteBuffer) {
        buffer.writeWireString(className)
        buffer.writeWireString(id.hex)
        buffer.writeWireOptional(id.name)
    }

    package static func read(from buffer: inout ByteBuffer) throws(WireError) -> WireObject {
        let className = try buffer.readWireString()
        let hex = try buffer.readWireString()
        let name = try buffer.readWireOptional()
        guard let id = try? ObjectID.restored(hex: hex, name: name) else { throw .malformed("the object id \(hex.prefix(80).debugDescription)") }
        return WireObject(className: className, id: id)
    }
}

/// What a stub asks of the platform.
package enum WireCallOp: UInt8, Sendable {
    case fetch = 1, start, startAndWaitForPorts, stop, destroy, state, renewActivityTimeout
    /// Reads or changes when the object's alarm fires (``WireAlarm``).
    case alarm
}

/// An alarm call's change and its answer: the time it fires now (nil: none), or why it failed.
package enum WireAlarm {
    package static func write(_ change: AlarmChange, into buffer: inout ByteBuffer) {
        switch change {
        case .get: buffer.writeInteger(UInt8(0))
        case .set(let date):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(date.timeIntervalSince1970.bitPattern)
        case .delete: buffer.writeInteger(UInt8(2))
        }
    }

    package static func readChange(from buffer: inout ByteBuffer) throws(WireError) -> AlarmChange {
        switch buffer.readInteger(as: UInt8.self) {
        case 0: return .get
        case 1:
            guard let bits: UInt64 = buffer.readInteger() else { throw .malformed("a cut alarm time") }
            return .set(Date(timeIntervalSince1970: Double(bitPattern: bits)))
        case 2: return .delete
        default: throw .malformed("an unknown alarm change")
        }
    }

    package static func write(_ answer: Result<Date?, BerthError>, into buffer: inout ByteBuffer) {
        switch answer {
        case .success(let date):
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger((date?.timeIntervalSince1970 ?? .nan).bitPattern)
        case .failure(let error):
            buffer.writeInteger(UInt8(1))
            buffer.writeWireString(error.message)
        }
    }

    package static func readAnswer(from buffer: inout ByteBuffer) throws(WireError) -> Result<Date?, BerthError> {
        switch buffer.readInteger(as: UInt8.self) {
        case 0:
            guard let bits: UInt64 = buffer.readInteger() else { throw .malformed("a cut alarm time") }
            let seconds = Double(bitPattern: bits)
            return .success(seconds.isNaN ? nil : Date(timeIntervalSince1970: seconds))
        case 1: return .failure(BerthError(.internal, try buffer.readWireString()))
        default: throw .malformed("an unknown alarm answer")
        }
    }
}

/// A hook for the Worker to run on an object.
package enum WireHook: Sendable {
    case start
    case stop(exitCode: Int, reason: StopReason)
    case error(String)
    case activityExpired
    case alarm(AlarmInfo)

    package func write(into buffer: inout ByteBuffer) {
        switch self {
        case .start: buffer.writeInteger(UInt8(1))
        case .stop(let code, let reason):
            buffer.writeInteger(UInt8(2))
            buffer.writeInteger(Int64(code))
            buffer.writeWireString(reason.rawValue)
        case .error(let message):
            buffer.writeInteger(UInt8(3))
            buffer.writeWireString(message)
        case .activityExpired: buffer.writeInteger(UInt8(4))
        case .alarm(let info):
            buffer.writeInteger(UInt8(5))
            buffer.writeInteger(Int64(info.retryCount))
        }
    }

    package static func read(from buffer: inout ByteBuffer) throws(WireError) -> WireHook {
        switch buffer.readInteger(as: UInt8.self) {
        case 1: return .start
        case 2:
            guard let code: Int64 = buffer.readInteger() else { throw .malformed("a cut exit code") }
            let reason = StopReason(rawValue: try buffer.readWireString()) ?? .exit
            return .stop(exitCode: Int(code), reason: reason)
        case 3: return .error(try buffer.readWireString())
        case 4: return .activityExpired
        case 5:
            guard let retries: Int64 = buffer.readInteger() else { throw .malformed("a cut alarm") }
            return .alarm(AlarmInfo(retryCount: Int(retries)))
        default: throw .malformed("an unknown hook")
        }
    }
}

/// What the server tells a Worker process once, as it connects.
package struct WireHello: Sendable, Codable {
    /// The link's frames as this server speaks them; a Worker built on another SDK refuses.
    package static let currentProtocol = 4
    package var protocolVersion: Int?
    /// The app whose ids the Worker derives (`idFromName`).
    package var app: String
    package var deploymentID: String
    /// Class name by binding name.
    package var bindings: [String: String]
    package var vars: [String: String]
    package var secrets: [String: String]
    /// `berth.limits.response_timeout`, in milliseconds: what the Worker allows a container
    /// it reaches under a standing lease, before the head and between reads of the body.
    package var responseTimeoutMilliseconds: Int?
    /// Where the objects' own databases are (`.berth/objects`): the Worker process opens
    /// those of its objects itself. Nil: this server gives its objects no storage.
    package var objectsFolder: String?

    package init(
        app: String, deploymentID: String, bindings: [String: String], vars: [String: String], secrets: [String: String],
        responseTimeout: Duration? = nil, objectsFolder: String? = nil
    ) {
        self.objectsFolder = objectsFolder
        self.protocolVersion = Self.currentProtocol
        self.app = app
        self.deploymentID = deploymentID
        self.bindings = bindings
        self.vars = vars
        self.secrets = secrets
        self.responseTimeoutMilliseconds = responseTimeout.map { Int($0 / .milliseconds(1)) }
    }

    /// ``responseTimeoutMilliseconds`` as a duration (default 60 s).
    package var responseTimeout: Duration { .milliseconds(responseTimeoutMilliseconds ?? 60_000) }
}

/// What a Worker process answers once it is ready: its Container classes' properties.
package struct WireReady: Sendable, Codable {
    package var containers: [String: ContainerProperties]

    package init(containers: [String: ContainerProperties]) {
        self.containers = containers
    }
}

extension WireFrame {
    /// A frame whose payload is `value` as JSON.
    package static func json(_ kind: Kind, _ value: some Encodable) throws -> WireFrame {
        WireFrame(kind, stream: 0, payload: ByteBuffer(bytes: try JSONEncoder().encode(value)))
    }

    /// The payload as JSON of `type`.
    package func decodeJSON<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(payload.readableBytesView))
    }

    /// A `reset` carrying `message`.
    package static func reset(_ stream: UInt32, _ message: String) -> WireFrame {
        WireFrame(.reset, stream: stream, payload: ByteBuffer(string: message))
    }
}
