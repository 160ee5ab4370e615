public import NIOCore

/// An HTTP body that streams: iterate it for its chunks, or ``collect(upTo:)`` it.
public struct Body: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let stream: (any AsyncSequence<ByteBuffer, any Error> & Sendable)?
    /// In a Worker process: the server holds these bytes (a container's response body); they
    /// cross only when read.
    package private(set) var held: HeldBody?

    /// A body the server holds, read through `stream`.
    package init(held: HeldBody, stream: some AsyncSequence<ByteBuffer, any Error> & Sendable) {
        self.stream = stream
        self.held = held
    }

    /// No body.
    public static let empty = Body(stream: nil)

    /// A body already in memory.
    public init(_ buffer: ByteBuffer) {
        stream = buffer.readableBytes == 0 ? nil : OneChunk(buffer: buffer)
    }

    /// Text as UTF-8.
    public init(_ text: String) {
        self.init(ByteBuffer(string: text))
    }

    /// A body produced while it is sent.
    public init<S: AsyncSequence & Sendable>(stream: S) where S.Element == ByteBuffer, S.Failure == any Error {
        self.stream = stream
    }

    init(stream: (any AsyncSequence<ByteBuffer, any Error> & Sendable)?) {
        self.stream = stream
    }

    public var isEmpty: Bool { stream == nil }

    public func makeAsyncIterator() -> AsyncIterator {
        // Read here: it can no longer be handed back untouched.
        if let held { _ = held.take() }
        return AsyncIterator(base: stream?.makeAsyncIterator())
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: (any AsyncIteratorProtocol<ByteBuffer, any Error>)?

        public mutating func next() async throws -> ByteBuffer? {
            guard base != nil else { return nil }
            return try await base!.next()
        }
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var result = ByteBuffer()
        for try await var chunk in self {
            guard result.readableBytes + chunk.readableBytes <= limit else {
                throw BodyTooLarge(limit: limit)
            }
            result.writeBuffer(&chunk)
        }
        return result
    }

    /// Reads the whole body as UTF-8 text.
    public func text(upTo limit: Int = 1 << 20) async throws -> String {
        String(buffer: try await collect(upTo: limit))
    }
}

/// The body was larger than the caller accepts.
public struct BodyTooLarge: Error, Sendable {
    public var limit: Int
}

struct OneChunk: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffer: ByteBuffer

    func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    struct Iterator: AsyncIteratorProtocol {
        var buffer: ByteBuffer?
        mutating func next() async throws -> ByteBuffer? {
            defer { buffer = nil }
            return buffer
        }
    }
}
