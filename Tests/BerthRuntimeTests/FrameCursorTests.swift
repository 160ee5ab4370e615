import BerthRuntime
import NIOCore
import Testing

@Suite("WebSocket frame cursor: boundaries without payloads")
struct FrameCursorTests {
    /// One frame as a sender of `sender`'s role writes it: masked from a client.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
        }
        if masked {
            let key: [UInt8] = [1, 2, 3, 4]
            bytes += key
            bytes += payload.enumerated().map { $1 ^ key[$0 % 4] }
        } else {
            bytes += payload
        }
        return bytes
    }

    func scan(_ cursor: inout FrameCursor, _ bytes: [UInt8]) -> FrameCursor.Scan {
        cursor.scan(ByteBuffer(bytes: bytes))
    }

    @Test("a boundary is known after every frame, however the bytes are split")
    func boundariesAcrossSplits() {
        let stream = Self.frame(0x1, Array("hello".utf8), masked: true) + Self.frame(0x2, Array(repeating: 7, count: 300), masked: true)
            + Self.frame(0x2, Array(repeating: 9, count: 70_000), masked: true)
        let ends = [11, 11 + 308, stream.count]
        for split in [1, 2, 3, 7, 13, 64, 1000, stream.count] {
            var cursor = FrameCursor(sender: .client, maxMessageBytes: 1 << 20)
            var offset = 0
            while offset < stream.count {
                let next = min(offset + split, stream.count)
                let result = scan(&cursor, Array(stream[offset..<next]))
                #expect(result.violation == nil)
                #expect(result.forwardable == next - offset, "every byte of valid frames goes on")
                #expect(result.atBoundary == ends.contains(next), "split \(split), at \(next)")
                offset = next
            }
            #expect(cursor.frames == 3)
        }
    }

    @Test("the sender's mask bit is checked: clients mask, containers do not")
    func masks() {
        var client = FrameCursor(sender: .client, maxMessageBytes: 1024)
        #expect(scan(&client, Self.frame(0x1, [65], masked: false)).violation == .protocolError("an unmasked frame from the client"))
        var container = FrameCursor(sender: .container, maxMessageBytes: 1024)
        #expect(scan(&container, Self.frame(0x1, [65], masked: false)).violation == nil)
        var masked = FrameCursor(sender: .container, maxMessageBytes: 1024)
        #expect(scan(&masked, Self.frame(0x1, [65], masked: true)).violation == .protocolError("a masked frame from the container"))
    }

    @Test("a violating frame goes on not at all; the frames before it do")
    func violationStopsBeforeTheFrame() {
        var cursor = FrameCursor(sender: .container, maxMessageBytes: 1024)
        let good = Self.frame(0x1, Array("ok".utf8), masked: false)
        let bad = Self.frame(0x3, [1], masked: false)
        let result = scan(&cursor, good + bad)
        #expect(result.forwardable == good.count)
        #expect(result.atBoundary)
        #expect(result.violation == .protocolError("a frame with the reserved opcode 3"))
    }

    @Test("after a violation nothing more goes on, whatever follows (found by the fuzzer)")
    func nothingAfterViolation() {
        var cursor = FrameCursor(sender: .container, maxMessageBytes: 1024)
        // A masked header split over two reads: its first bytes went on before it was known.
        #expect(scan(&cursor, [0x01, 0x81]).forwardable == 2)
        let broken = scan(&cursor, [0x7E, 0x00, 0x71, 0x71])
        #expect(broken.forwardable == 0 && !broken.atBoundary && broken.violation?.closeCode == 1002)
        let after = scan(&cursor, Self.frame(0x8, [0x03, 0xE8], masked: false))
        #expect(after.forwardable == 0, "a valid-looking close frame after the violation is not forwarded")
        #expect(cursor.failed != nil)
    }

    @Test("control frames are short and final; fragments come in order")
    func controlAndFragments() {
        var long = FrameCursor(sender: .container, maxMessageBytes: 1024)
        #expect(scan(&long, Self.frame(0x9, Array(repeating: 0, count: 126), masked: false)).violation?.closeCode == 1002)
        var fragmentedPing = FrameCursor(sender: .container, maxMessageBytes: 1024)
        #expect(scan(&fragmentedPing, Self.frame(0x9, [], fin: false, masked: false)).violation?.closeCode == 1002)
        var orphan = FrameCursor(sender: .container, maxMessageBytes: 1024)
        #expect(scan(&orphan, Self.frame(0x0, [1], masked: false)).violation == .protocolError("a continuation frame outside a message"))
        var interleaved = FrameCursor(sender: .container, maxMessageBytes: 1024)
        let ok = Self.frame(0x1, [1], fin: false, masked: false) + Self.frame(0x9, [], masked: false) + Self.frame(0x0, [2], masked: false)
        #expect(scan(&interleaved, ok).violation == nil, "a ping between fragments is allowed")
        #expect(scan(&interleaved, Self.frame(0x1, [1], fin: false, masked: false) + Self.frame(0x2, [1], masked: false)).violation?.closeCode == 1002)
    }

    @Test("a message larger than the limit, counted over its fragments, is 1009")
    func messageSize() {
        var cursor = FrameCursor(sender: .client, maxMessageBytes: 100)
        #expect(scan(&cursor, Self.frame(0x2, Array(repeating: 1, count: 100), masked: true)).violation == nil)
        #expect(scan(&cursor, Self.frame(0x2, Array(repeating: 1, count: 60), fin: false, masked: true)).violation == nil)
        let over = scan(&cursor, Self.frame(0x0, Array(repeating: 1, count: 41), masked: true))
        #expect(over.violation == .tooBig(limit: 100))
        #expect(over.violation?.closeCode == 1009)
    }

    @Test("a close frame is seen, and nothing may follow it")
    func close() {
        var cursor = FrameCursor(sender: .client, maxMessageBytes: 1024)
        let result = scan(&cursor, Self.frame(0x8, [0x03, 0xE8], masked: true))
        #expect(result.sawClose)
        #expect(cursor.closed)
        #expect(scan(&cursor, Self.frame(0x1, [1], masked: true)).violation == .protocolError("a frame after the close frame"))
    }

    @Test("Berth's close frame: code and reason, masked only towards a container, cut to 125 bytes")
    func closeFrame() {
        var toClient = CloseFrame.make(code: 1001, reason: "going", masked: false)
        #expect(toClient.readBytes(length: toClient.readableBytes) == [0x88, 7, 0x03, 0xE9] + Array("going".utf8))
        var cursor = FrameCursor(sender: .client, maxMessageBytes: 1024)
        let masked = CloseFrame.make(code: 1001, reason: String(repeating: "é", count: 100), masked: true)
        let result = cursor.scan(masked)
        #expect(result.violation == nil && result.sawClose && result.atBoundary, "a valid masked close frame")
        #expect(masked.readableBytes <= 2 + 4 + 125)
    }
}
