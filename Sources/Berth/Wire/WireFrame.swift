public import NIOCore

/// One frame on the link between the server and a Worker process (a Unix socket): four bytes
/// of length (of what follows), a kind, a stream id, the payload.
///
/// Streams the server opens (requests, hook calls) have even ids; streams the Worker opens
/// (its stubs' calls) odd ones, so a body frame's direction and id say whose stream it is.
package struct WireFrame: Sendable {
    package enum Kind: UInt8, Sendable {
        // Server to Worker.
        /// The deployment's bindings, vars and secrets (JSON ``WireHello``); stream 0.
        case hello = 1
        /// A request for the Worker: its head (``WireHead``).
        case request = 2
        /// An object's hook to run (``WireHook``).
        case hook = 3
        /// The answer to a stub's call: for `fetch`, the container's response head.
        case callResult = 4
        /// A standing lease (the stream is its id) is taken back: the Worker sends nothing
        /// more under it and answers `leaseGivenUp` (one byte: 1 once its requests in flight
        /// under it have ended, 0 at once).
        case revoke = 5
        // Worker to server.
        /// The Worker is ready: its Container classes' properties (JSON ``WireReady``); stream 0.
        case ready = 20
        /// The Worker's response head to a request.
        case response = 21
        /// A stub's call (``WireCall``).
        case call = 22
        /// A hook ran; its answer (one byte, for `onActivityExpired`).
        case hookDone = 23
        /// The Worker reads a body the server holds for it (``WireResponse/heldBody``): the
        /// server sends it as body frames of the same stream.
        case pull = 24
        /// The Worker's requests under a standing lease (the stream is its id) went from none
        /// to some.
        case leaseBusy = 25
        /// … and back to none.
        case leaseIdle = 26
        /// One exchange under a standing lease: its status (two bytes) and the container's
        /// time in microseconds (eight).
        case leaseReport = 27
        /// The Worker gave a standing lease up: revoked, or one it does not need.
        case leaseGivenUp = 28
        /// The Worker reads a container's WebSocket it holds the handle of (the stream) itself:
        /// the server relays the socket's messages as `socketMessage` frames of that stream.
        case socketOpen = 29
        // Either way.
        /// Bytes of a stream's body.
        case body = 40
        /// A stream's body ended.
        case end = 41
        /// A stream ended with an error (UTF-8 message): its request or call failed.
        case reset = 42
        /// One message of a WebSocket carried over the link (a `WebSocketPair` the Worker
        /// answered a request's stream with, or a container's socket it opened): one byte of
        /// kind (1 text, 2 binary), then the message.
        case socketMessage = 43
        /// That WebSocket closed: two bytes of code, then the reason (UTF-8).
        case socketClose = 44
    }

    package var kind: Kind
    package var stream: UInt32
    package var payload: ByteBuffer

    package init(_ kind: Kind, stream: UInt32, payload: ByteBuffer = ByteBuffer()) {
        self.kind = kind
        self.stream = stream
        self.payload = payload
    }

    /// The argument a Worker process reads its end of the link from: `--berth-link-fd 3`.
    package static let descriptorArgument = "--berth-link-fd"

    /// Length, kind and stream id.
    static let headerBytes = 9
    /// A frame larger than this is a broken link, not a frame.
    package static let maxPayload = 1 << 24

    /// Writes the frame into `buffer`.
    package func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(5 + payload.readableBytes))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(stream)
        var payload = payload
        buffer.writeBuffer(&payload)
    }
}

/// Cuts the link's bytes into frames (both ends use it).
package struct WireFrameDecoder: ByteToMessageDecoder {
    package typealias InboundOut = WireFrame

    package init() {}

    package mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length >= 5, Int(length) - 5 <= WireFrame.maxPayload else { throw WireError.malformed("a frame of \(length) bytes") }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let kindByte: UInt8 = buffer.readInteger()!
        let stream: UInt32 = buffer.readInteger()!
        let payload = buffer.readSlice(length: Int(length) - 5)!
        guard let kind = WireFrame.Kind(rawValue: kindByte) else { throw WireError.malformed("a frame of kind \(kindByte)") }
        context.fireChannelRead(wrapInboundOut(WireFrame(kind, stream: stream, payload: payload)))
        return .continue
    }
}

/// What is wrong with the link's bytes.
package enum WireError: Error, CustomStringConvertible {
    case malformed(String)
    package var description: String {
        switch self {
        case .malformed(let what): "the Worker link carried \(what)"
        }
    }
}
