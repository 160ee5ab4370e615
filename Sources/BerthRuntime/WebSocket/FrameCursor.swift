import NIOCore

/// Follows the frames of one direction of a proxied WebSocket (RFC 6455 §5.2) without
/// holding any of their payload: it reads each frame's header as its bytes pass, counts the
/// payload down, and so always knows whether the bytes forwarded so far end on a frame
/// boundary, where Berth may insert a close frame of its own. It checks what a proxy must
/// be able to trust: the mask bit of the sender's role, known opcodes, control frames that
/// are short and final, fragments in order, and the message size limit.
public struct FrameCursor: Sendable {
    /// Who sends the frames this cursor follows.
    public enum Sender: Sendable {
        /// The client: every frame is masked.
        case client
        /// The container (a server): no frame is masked.
        case container
    }

    /// Why the frames cannot be forwarded further, and the close code that says so.
    public enum Violation: Error, Equatable, Sendable {
        /// A malformed frame or sequence (1002).
        case protocolError(String)
        /// A message larger than the limit (1009).
        case tooBig(limit: Int)

        public var closeCode: UInt16 {
            switch self {
            case .protocolError: 1002
            case .tooBig: 1009
            }
        }

        public var reason: String {
            switch self {
            case .protocolError(let why): why
            case .tooBig(let limit): "message larger than \(limit) bytes (berth.websockets.max_message_bytes)"
            }
        }
    }

    /// What one buffer held.
    public struct Scan: Equatable, Sendable {
        /// Bytes that may be forwarded: all of them, or those before a violating frame.
        public var forwardable: Int
        /// Whether those bytes end on a frame boundary.
        public var atBoundary: Bool
        /// A close frame began among them.
        public var sawClose: Bool
        public var violation: Violation?
    }

    public let sender: Sender
    public let maxMessageBytes: Int
    /// Header bytes of the frame being read, up to 14.
    private var header: [UInt8] = []
    /// Payload bytes of the current frame still to pass.
    private var remaining: UInt64 = 0
    /// Payload bytes of the data message in progress (its fragments so far).
    private var messageBytes: UInt64 = 0
    /// A text or binary message started and its final fragment has not come yet.
    private var inMessage = false
    /// A close frame passed: nothing may follow it.
    public private(set) var closed = false
    /// Frames whose header was read.
    public private(set) var frames = 0
    /// The violation found, if any: after it the stream's framing is unknown, and nothing more
    /// of it may be forwarded.
    public private(set) var failed: Violation?

    public init(sender: Sender, maxMessageBytes: Int) {
        self.sender = sender
        self.maxMessageBytes = maxMessageBytes
        header.reserveCapacity(14)
    }

    /// Whether the bytes read so far end on a frame boundary.
    public var atBoundary: Bool { header.isEmpty && remaining == 0 }

    /// Follows `buffer`'s bytes (which pass on unchanged).
    public mutating func scan(_ buffer: ByteBuffer) -> Scan {
        buffer.withUnsafeReadableBytes { scan($0) }
    }

    public mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Scan {
        if let failed { return Scan(forwardable: 0, atBoundary: false, sawClose: false, violation: failed) }
        let scan = follow(bytes)
        failed = scan.violation
        return scan
    }

    private mutating func follow(_ bytes: UnsafeRawBufferPointer) -> Scan {
        var index = 0
        var sawClose = false
        var frameStart = 0
        // The header in progress began in an earlier buffer (its first bytes went on already).
        var headerCarried = !header.isEmpty
        while index < bytes.count {
            if remaining > 0 {
                let step = Int(min(remaining, UInt64(bytes.count - index)))
                remaining -= UInt64(step)
                index += step
                continue
            }
            if header.isEmpty {
                frameStart = index
                headerCarried = false
            }
            if closed {
                return Scan(forwardable: frameStart, atBoundary: true, sawClose: sawClose, violation: .protocolError("a frame after the close frame"))
            }
            header.append(bytes[index])
            index += 1
            guard let needed = headerLength, header.count == needed else { continue }
            switch headerComplete() {
            case .success(let isClose):
                if isClose { sawClose = true }
            case .failure(let violation):
                // Nothing of the violating frame goes on; of one whose header began in an
                // earlier buffer, the first bytes went already: no boundary to stop at.
                return Scan(forwardable: headerCarried ? 0 : frameStart, atBoundary: !headerCarried, sawClose: sawClose, violation: violation)
            }
        }
        return Scan(forwardable: bytes.count, atBoundary: atBoundary, sawClose: sawClose, violation: nil)
    }

    /// The whole header's length once its first two bytes are known.
    private var headerLength: Int? {
        guard header.count >= 2 else { return nil }
        let masked = header[1] & 0x80 != 0
        let length = header[1] & 0x7F
        return 2 + (length == 126 ? 2 : length == 127 ? 8 : 0) + (masked ? 4 : 0)
    }

    /// Checks a complete header and starts counting its payload; true for a close frame.
    private mutating func headerComplete() -> Result<Bool, Violation> {
        defer { header.removeAll(keepingCapacity: true) }
        frames += 1
        let fin = header[0] & 0x80 != 0
        let opcode = header[0] & 0x0F
        let masked = header[1] & 0x80 != 0
        var length = UInt64(header[1] & 0x7F)
        if length == 126 {
            length = UInt64(header[2]) << 8 | UInt64(header[3])
        } else if length == 127 {
            length = header[2..<10].reduce(0) { $0 << 8 | UInt64($1) }
            if length >> 63 != 0 { return .failure(.protocolError("a frame length with its most significant bit set")) }
        }
        switch sender {
        case .client where !masked: return .failure(.protocolError("an unmasked frame from the client"))
        case .container where masked: return .failure(.protocolError("a masked frame from the container"))
        default: break
        }
        switch opcode {
        case 0x8, 0x9, 0xA:
            guard fin else { return .failure(.protocolError("a fragmented control frame")) }
            guard length <= 125 else { return .failure(.protocolError("a control frame longer than 125 bytes")) }
        case 0x0:
            guard inMessage else { return .failure(.protocolError("a continuation frame outside a message")) }
        case 0x1, 0x2:
            guard !inMessage else { return .failure(.protocolError("a new message before the last one's final fragment")) }
            messageBytes = 0
        default:
            return .failure(.protocolError("a frame with the reserved opcode \(opcode)"))
        }
        if opcode < 0x8 {
            messageBytes += length
            guard messageBytes <= UInt64(maxMessageBytes) else { return .failure(.tooBig(limit: maxMessageBytes)) }
            inMessage = !fin
        }
        remaining = length
        if opcode == 0x8 {
            closed = true
            return .success(true)
        }
        return .success(false)
    }
}

/// The close frame Berth sends itself: unmasked to a client, masked (as a client must) to a
/// container. The reason is cut to fit the 125 bytes of a control frame.
public enum CloseFrame {
    public static func make(code: UInt16, reason: String, masked: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var reasonBytes = Array(reason.utf8.prefix(123))
        // Never end inside a UTF-8 sequence.
        while let last = reasonBytes.last, last & 0xC0 == 0x80 || (last & 0x80 != 0 && reasonBytes.count == 123) {
            reasonBytes.removeLast()
            if last & 0xC0 != 0x80 { break }
        }
        payload += reasonBytes
        var buffer = allocator.buffer(capacity: 2 + 4 + payload.count)
        buffer.writeInteger(UInt8(0x88))
        if masked {
            buffer.writeInteger(UInt8(0x80 | payload.count))
            let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
            buffer.writeBytes(key)
            buffer.writeBytes(payload.enumerated().map { $1 ^ key[$0 % 4] })
        } else {
            buffer.writeInteger(UInt8(payload.count))
            buffer.writeBytes(payload)
        }
        return buffer
    }
}
