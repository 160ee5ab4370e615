public import BerthCore
public import NIOCore
import Synchronization

/// One end of the link between the server and a Worker process: streams of frames over one
/// socket, each a request and its answer with their bodies. The same type runs at both ends;
/// what a stream the peer opens means is the `onOpen` closure's.
///
/// Every frame is handled on the channel's event loop in order: a body's frames reach the
/// stream registered for it before the next frame is read, because streams are registered
/// either when they are opened (``exchange(_:payload:body:)``) or synchronously in `onOpen`
/// (``receiveBody(_:)``).
package final class WireLink: Sendable {
    private struct State {
        var nextID: UInt32
        var answers: [UInt32: CheckedContinuation<WireFrame, any Error>] = [:]
        /// Deadlines of answers waited for, by stream.
        var timers: [UInt32: Scheduled<Void>] = [:]
        var bodies: [UInt32: AsyncThrowingStream<ByteBuffer, any Error>.Continuation] = [:]
        var closed: BerthError?
    }

    package let channel: any Channel
    private let state: Mutex<State>
    /// A flush is scheduled for the end of the event loop's turn.
    private let flushPending = Atomic<Bool>(false)
    private let onOpen: @Sendable (WireFrame, WireLink) -> Void
    /// The error in-flight streams end with when the link closes.
    private let closedError: @Sendable () -> BerthError

    /// - Parameters:
    ///   - opensOdd: whether this end opens odd stream ids (the Worker) or even ones (the server).
    ///   - onOpen: a stream the peer opened (on the event loop; register its body at once).
    package init(
        channel: any Channel, opensOdd: Bool, closedError: @escaping @Sendable () -> BerthError,
        onOpen: @escaping @Sendable (WireFrame, WireLink) -> Void
    ) {
        self.channel = channel
        self.state = Mutex(State(nextID: opensOdd ? 1 : 2))
        self.closedError = closedError
        self.onOpen = onOpen
    }

    /// The handler to put on the channel after a ``WireFrameDecoder``.
    package var handler: any ChannelHandler { WireLinkHandler(link: self) }

    /// Sends `kind` with `payload` on a new stream, then `body`; returns the peer's answer and
    /// the answer's body (empty when it has none: `hasBody` says, from the answer's frame).
    /// `deadline`: the answer's head must come within it, else `timedOut()` is thrown and
    /// the peer is told to give up the stream.
    package func exchange(
        _ kind: WireFrame.Kind, payload: ByteBuffer, body: Body = .empty, deadline: Duration? = nil,
        timedOut: @escaping @Sendable () -> BerthError = { BerthError(.timeout, "the Worker link's peer did not answer in time") },
        hasBody: @Sendable (WireFrame) -> Bool
    ) async throws -> (WireFrame, Body) {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let id: UInt32
        do {
            id = try state.withLock { state throws(BerthError) -> UInt32 in
                if let closed = state.closed { throw closed }
                let id = state.nextID
                state.nextID &+= 2
                state.bodies[id] = continuation
                return id
            }
        } catch {
            continuation.finish(throwing: error)
            throw error
        }
        let answer = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<WireFrame, any Error>) in
                let failure: BerthError? = state.withLock { state in
                    if let closed = state.closed { return closed }
                    state.answers[id] = waiter
                    if let deadline {
                        state.timers[id] = channel.eventLoop.scheduleTask(in: TimeAmount(deadline)) { [weak self] in
                            self?.abandon(id, timedOut())
                        }
                    }
                    return nil
                }
                if let failure {
                    waiter.resume(throwing: failure)
                    return
                }
                write(WireFrame(kind, stream: id, payload: payload), flush: body.isEmpty)
                if !body.isEmpty { Task { await self.send(body, on: id) } }
            }
        } onCancel: {
            self.abandon(id, "the request was cancelled")
        }
        guard hasBody(answer) else {
            finishBody(id, error: nil)
            return (answer, .empty)
        }
        return (answer, Body(stream: stream))
    }

    /// Answers the stream `id` the peer opened with `kind` and `payload`, then `body`.
    package func answer(_ id: UInt32, _ kind: WireFrame.Kind, payload: ByteBuffer, body: Body = .empty) async {
        write(WireFrame(kind, stream: id, payload: payload), flush: body.isEmpty)
        if !body.isEmpty { await send(body, on: id) }
    }

    /// Sends a frame that opens nothing (`hello`, `ready`) or ends a stream (`reset`).
    package func send(_ frame: WireFrame) {
        write(frame, flush: true)
    }

    /// A body the server holds for stream `id`, read when it is iterated (`pull`); handed back
    /// untouched, it never crosses (``Body/held``).
    package func heldBody(_ id: UInt32) -> Body {
        Body(held: HeldBody(id: id), stream: PulledBody(id: id, link: self))
    }

    /// The body of the stream `id` the peer opened: call it from `onOpen`, on the event loop.
    package func receiveBody(_ id: UInt32) -> Body {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let closed: BerthError? = state.withLock { state in
            if let closed = state.closed { return closed }
            state.bodies[id] = continuation
            return nil
        }
        if let closed { continuation.finish(throwing: closed) }
        return Body(stream: stream)
    }

    /// Streams `body` as body frames of `id`, then its end (or a reset when it fails).
    package func send(_ body: Body, on id: UInt32) async {
        do {
            for try await chunk in body {
                guard chunk.readableBytes > 0 else { continue }
                var rest = chunk
                while rest.readableBytes > 0 {
                    let piece = rest.readSlice(length: min(rest.readableBytes, WireFrame.maxPayload))!
                    // Waits for the write only when the socket's buffer is full (backpressure).
                    if channel.isWritable {
                        write(WireFrame(.body, stream: id, payload: piece), flush: true)
                    } else {
                        try await writeAndWait(WireFrame(.body, stream: id, payload: piece))
                    }
                }
            }
            write(WireFrame(.end, stream: id), flush: true)
        } catch {
            write(.reset(id, "the body failed: \(BerthError.wrap(error).message)"), flush: true)
        }
    }

    /// Gives up on a stream this end opened: the peer is told, and its answer is not waited for.
    private func abandon(_ id: UInt32, _ reason: String) {
        abandon(id, BerthError(.unavailable, reason))
    }

    private func abandon(_ id: UInt32, _ error: BerthError) {
        let (waiter, timer) = state.withLock { ($0.answers.removeValue(forKey: id), $0.timers.removeValue(forKey: id)) }
        timer?.cancel()
        guard let waiter else { return }
        waiter.resume(throwing: error)
        finishBody(id, error: error)
        write(.reset(id, error.message), flush: true)
    }

    /// The answer's waiter, its deadline cancelled.
    private func takeAnswer(_ id: UInt32) -> CheckedContinuation<WireFrame, any Error>? {
        let (waiter, timer) = state.withLock { ($0.answers.removeValue(forKey: id), $0.timers.removeValue(forKey: id)) }
        timer?.cancel()
        return waiter
    }

    private func write(_ frame: WireFrame, flush: Bool) {
        var buffer = channel.allocator.buffer(capacity: WireFrame.headerBytes + frame.payload.readableBytes)
        frame.write(into: &buffer)
        guard channel.eventLoop.inEventLoop else {
            if flush { channel.writeAndFlush(buffer, promise: nil) } else { channel.write(buffer, promise: nil) }
            return
        }
        // On the loop, frames written in one turn of it go out in one write: the flush waits
        // for the end of the turn (a Worker process's tasks run there).
        channel.write(buffer, promise: nil)
        if flush, !flushPending.exchange(true, ordering: .relaxed) {
            channel.eventLoop.execute { [self] in
                flushPending.store(false, ordering: .relaxed)
                channel.flush()
            }
        }
    }

    private func writeAndWait(_ frame: WireFrame) async throws {
        var buffer = channel.allocator.buffer(capacity: WireFrame.headerBytes + frame.payload.readableBytes)
        frame.write(into: &buffer)
        try await channel.writeAndFlush(buffer)
    }

    private func finishBody(_ id: UInt32, error: (any Error)?) {
        let continuation = state.withLock { $0.bodies.removeValue(forKey: id) }
        if let error { continuation?.finish(throwing: error) } else { continuation?.finish() }
    }

    /// A frame arrived (on the event loop).
    fileprivate func received(_ frame: WireFrame) {
        switch frame.kind {
        case .body:
            _ = state.withLock { $0.bodies[frame.stream] }?.yield(frame.payload)
        case .end:
            finishBody(frame.stream, error: nil)
        case .reset:
            let message = String(buffer: frame.payload)
            let waiter = takeAnswer(frame.stream)
            waiter?.resume(throwing: BerthError(.workerFailed, message))
            finishBody(frame.stream, error: BerthError(.workerFailed, message))
        case .response, .callResult, .hookDone:
            takeAnswer(frame.stream)?.resume(returning: frame)
        case .hello, .ready, .request, .call, .hook, .pull, .revoke, .leaseBusy, .leaseIdle, .leaseReport, .leaseGivenUp,
             .socketOpen, .socketMessage, .socketClose:
            onOpen(frame, self)
        }
    }

    /// The link closed: every stream in flight ends with the link's error.
    fileprivate func closed() {
        let error = closedError()
        let (answers, bodies) = state.withLock { state in
            if state.closed == nil { state.closed = error }
            defer {
                state.answers = [:]
                state.bodies = [:]
                for timer in state.timers.values { timer.cancel() }
                state.timers = [:]
            }
            return (state.answers, state.bodies)
        }
        for waiter in answers.values { waiter.resume(throwing: error) }
        for body in bodies.values { body.finish(throwing: error) }
    }

    /// Closes the link (in-flight streams end with the link's error).
    package func close() {
        channel.close(promise: nil)
    }
}

/// Hands a link's frames to it, and tells it when the socket closes.
final class WireLinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WireFrame
    let link: WireLink

    init(link: WireLink) {
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A body the server holds for the Worker: either pulled (read here) or claimed (returned to
/// the server untouched), once.
package final class HeldBody: Sendable {
    package let id: UInt32
    private let taken = Atomic<Bool>(false)

    init(id: UInt32) { self.id = id }

    /// True the first time: nothing has read it or claimed it yet.
    package func take() -> Bool { !taken.exchange(true, ordering: .relaxed) }
}

/// The bytes of a held body, asked for when it is first read.
struct PulledBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let id: UInt32
    let link: WireLink

    func makeAsyncIterator() -> Iterator { Iterator(id: id, link: link) }

    struct Iterator: AsyncIteratorProtocol {
        let id: UInt32
        let link: WireLink
        var base: Body.AsyncIterator?

        mutating func next() async throws -> ByteBuffer? {
            if base == nil {
                let body = link.receiveBody(id)
                link.send(WireFrame(.pull, stream: id))
                base = body.makeAsyncIterator()
            }
            return try await base!.next()
        }
    }
}
