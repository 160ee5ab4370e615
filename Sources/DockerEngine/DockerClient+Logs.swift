import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore

/// Which output stream of a container bytes came from.
public enum OutputStream: String, Sendable, Codable {
    case stdout
    case stderr
}

/// A piece of a container's output as the engine delivered it.
public struct LogChunk: Sendable {
    public var stream: OutputStream
    public var bytes: ByteBuffer
    public var text: String { String(buffer: bytes) }
}

/// One line of a container's output, without its line break.
public struct LogLine: Sendable, Equatable {
    public var stream: OutputStream
    /// The engine's RFC 3339 timestamp, when requested.
    public var timestamp: String?
    public var text: String

    public init(stream: OutputStream, timestamp: String? = nil, text: String) {
        self.stream = stream
        self.timestamp = timestamp
        self.text = text
    }
}

/// Which part of a container's output to read.
public struct LogOptions: Sendable {
    /// Keep the stream open and deliver new output as it is written.
    public var follow = false
    public var stdout = true
    public var stderr = true
    /// Only output since this Unix time (seconds).
    public var since: Double?
    /// Only the last `tail` lines of what exists already.
    public var tail: Int?
    /// Prefix lines with the engine's timestamp (parsed into ``LogLine/timestamp``).
    public var timestamps = false

    public init(follow: Bool = false, since: Double? = nil, tail: Int? = nil, timestamps: Bool = false) {
        self.follow = follow
        self.since = since
        self.tail = tail
        self.timestamps = timestamps
    }
}

extension DockerClient {
    /// A container's output as the engine frames it, stdout and stderr told apart.
    /// With `follow`, the stream stays open until the container stops or the loop breaks.
    public func logs(_ id: String, options: LogOptions = LogOptions()) async throws(BerthError) -> EngineStream<LogChunk> {
        let (response, tty) = try await openLogs(id, options)
        return EngineStream(body: response.body) { LogFrameDecoder(tty: tty) }
    }

    /// A container's output line by line, stdout and stderr told apart.
    public func logLines(_ id: String, options: LogOptions = LogOptions()) async throws(BerthError) -> EngineStream<LogLine> {
        let (response, tty) = try await openLogs(id, options)
        let timestamps = options.timestamps
        return EngineStream(body: response.body) { LogLineDecoder(frames: LogFrameDecoder(tty: tty), timestamps: timestamps) }
    }

    private func openLogs(_ id: String, _ options: LogOptions) async throws(BerthError) -> (HTTPClientResponse, tty: Bool) {
        // Without a TTY the engine multiplexes stdout and stderr into frames.
        let tty = try await inspectContainer(id).config.tty
        let response = try await send(Request(
            path: "/containers/\(id)/logs",
            query: [
                ("follow", options.follow ? "1" : "0"), ("stdout", options.stdout ? "1" : "0"),
                ("stderr", options.stderr ? "1" : "0"), ("since", options.since.map { String(format: "%.3f", $0) }),
                ("tail", options.tail.map(String.init) ?? "all"), ("timestamps", options.timestamps ? "1" : "0"),
            ],
            operation: "read the logs of container \(id)"
        ))
        return (response, tty)
    }
}

/// Splits the engine's multiplexed log stream into chunks. Each frame is an 8-byte header
/// (stream type, three zero bytes, big-endian payload length) and its payload. A container
/// with a TTY has no frames: everything is stdout.
struct LogFrameDecoder: StreamDecoder {
    let tty: Bool
    var buffer = ByteBuffer()
    var ended = false

    mutating func feed(_ chunk: ByteBuffer) {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
    }

    mutating func endOfInput() { ended = true }

    mutating func next() throws(BerthError) -> LogChunk? {
        if tty {
            guard buffer.readableBytes > 0 else { return nil }
            let bytes = buffer.readSlice(length: buffer.readableBytes)!
            buffer.clear()
            return LogChunk(stream: .stdout, bytes: bytes)
        }
        guard buffer.readableBytes >= 8 else {
            if ended, buffer.readableBytes > 0 {
                throw BerthError(.engineError, "the engine's log stream ended in the middle of a frame header")
            }
            return nil
        }
        let kind = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: buffer.readerIndex + 4, endianness: .big, as: UInt32.self)!)
        guard buffer.readableBytes >= 8 + length else {
            if ended { throw BerthError(.engineError, "the engine's log stream ended in the middle of a frame") }
            return nil
        }
        let stream: OutputStream
        switch kind {
        case 0, 1: stream = .stdout
        case 2: stream = .stderr
        default: throw BerthError(.engineError, "the engine's log stream has an unknown frame type \(kind)")
        }
        buffer.moveReaderIndex(forwardBy: 8)
        let payload = buffer.readSlice(length: length)!
        if buffer.readableBytes == 0 { buffer.clear() }
        return LogChunk(stream: stream, bytes: payload)
    }
}

/// Turns log chunks into lines, keeping a partial line per stream until its end arrives.
struct LogLineDecoder: StreamDecoder {
    var frames: LogFrameDecoder
    let timestamps: Bool
    var partial: [OutputStream: [UInt8]] = [:]
    var ready: [LogLine] = []
    var ended = false

    mutating func feed(_ chunk: ByteBuffer) { frames.feed(chunk) }

    mutating func endOfInput() {
        frames.endOfInput()
        ended = true
    }

    mutating func next() throws(BerthError) -> LogLine? {
        while ready.isEmpty {
            if let chunk = try frames.next() {
                var pending = partial[chunk.stream, default: []]
                for byte in chunk.bytes.readableBytesView {
                    if byte == UInt8(ascii: "\n") {
                        ready.append(line(pending, chunk.stream))
                        pending.removeAll(keepingCapacity: true)
                    } else {
                        pending.append(byte)
                    }
                }
                partial[chunk.stream] = pending
            } else if ended {
                for stream in [OutputStream.stdout, .stderr] {
                    if let rest = partial.removeValue(forKey: stream), !rest.isEmpty { ready.append(line(rest, stream)) }
                }
                break
            } else {
                break
            }
        }
        return ready.isEmpty ? nil : ready.removeFirst()
    }

    func line(_ bytes: [UInt8], _ stream: OutputStream) -> LogLine {
        var bytes = bytes[...]
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        guard timestamps, let space = bytes.firstIndex(of: UInt8(ascii: " ")) else {
            return LogLine(stream: stream, timestamp: nil, text: String(decoding: bytes, as: UTF8.self))
        }
        return LogLine(
            stream: stream, timestamp: String(decoding: bytes[..<space], as: UTF8.self),
            text: String(decoding: bytes[(space + 1)...], as: UTF8.self)
        )
    }
}
