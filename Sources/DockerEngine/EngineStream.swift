import AsyncHTTPClient
import BerthCore
import Foundation
import NIOCore

/// Cuts a byte stream into elements; fed chunk by chunk, so nothing is buffered whole.
protocol StreamDecoder<Element> {
    associatedtype Element
    /// Appends bytes that arrived.
    mutating func feed(_ chunk: ByteBuffer)
    /// The next complete element, or nil until more bytes arrive. After ``endOfInput()``,
    /// returns what is left and then nil.
    mutating func next() throws(BerthError) -> Element?
    /// The stream ended.
    mutating func endOfInput()
}

/// A stream of typed messages decoded from an engine response as its bytes arrive: build
/// output, push/pull progress, logs, events. Iterate it once; breaking out of the loop
/// closes the connection.
public struct EngineStream<Element: Sendable>: AsyncSequence, Sendable {
    let body: HTTPClientResponse.Body
    let makeDecoder: @Sendable () -> any StreamDecoder<Element>

    init(body: HTTPClientResponse.Body, decoder: @escaping @Sendable () -> any StreamDecoder<Element>) {
        self.body = body
        self.makeDecoder = decoder
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: body.makeAsyncIterator(), decoder: makeDecoder())
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator
        var decoder: any StreamDecoder<Element>
        var ended = false

        public mutating func next() async throws -> Element? {
            while true {
                if let element = try decoder.next() { return element }
                if ended { return nil }
                if let chunk = try await base.next() {
                    decoder.feed(chunk)
                } else {
                    ended = true
                    decoder.endOfInput()
                }
            }
        }
    }
}

/// Splits a stream into lines (without the line break).
struct LineDecoder: StreamDecoder {
    var buffer = ByteBuffer()
    var ended = false

    mutating func feed(_ chunk: ByteBuffer) {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
    }

    mutating func next() throws(BerthError) -> ByteBuffer? {
        if let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            if buffer.readableBytes == 0 { buffer.clear() }
            return line
        }
        if ended, buffer.readableBytes > 0 {
            let rest = buffer.readSlice(length: buffer.readableBytes)!
            buffer.clear()
            return rest
        }
        return nil
    }

    mutating func endOfInput() { ended = true }
}

/// Decodes one JSON value per line (the engine's streaming format), skipping blank lines.
struct JSONLinesDecoder<Element: Decodable>: StreamDecoder {
    var lines = LineDecoder()
    let decoder = JSONDecoder()

    mutating func feed(_ chunk: ByteBuffer) { lines.feed(chunk) }
    mutating func endOfInput() { lines.endOfInput() }

    mutating func next() throws(BerthError) -> Element? {
        while let line = try lines.next() {
            let bytes = line.readableBytesView
            guard bytes.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { continue }
            do {
                return try decoder.decode(Element.self, from: Data(bytes))
            } catch {
                throw BerthError(.engineError, "the engine sent a message Berth cannot read: \(String(buffer: line).prefix(200))", cause: error)
            }
        }
        return nil
    }
}
