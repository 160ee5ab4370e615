import BerthAPI
import BerthRuntime
import Synchronization

/// Hands every instance event to the state store and to whoever listens now (`berth tail`,
/// later the dashboard). Listeners get their own buffered stream; one that stops reading
/// loses only its own events.
public final class InstanceEventHub: InstanceObserver {
    let recorder: (any InstanceObserver)?
    let telemetry: (any InstanceObserver)?
    private let listeners = Mutex<[Int: AsyncStream<(InstanceRecord, InstanceEvent)>.Continuation]?>([:])
    private let nextID = Atomic<Int>(0)

    public init(recorder: (any InstanceObserver)?, telemetry: (any InstanceObserver)? = nil) {
        self.recorder = recorder
        self.telemetry = telemetry
    }

    public func instance(_ record: InstanceRecord, _ event: InstanceEvent) {
        recorder?.instance(record, event)
        telemetry?.instance(record, event)
        for listener in listeners.withLock({ Array(($0 ?? [:]).values) }) { listener.yield((record, event)) }
    }

    /// Events from now on, until the stream is dropped.
    public func subscribe() -> AsyncStream<(InstanceRecord, InstanceEvent)> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream.makeStream(of: (InstanceRecord, InstanceEvent).self, bufferingPolicy: .bufferingNewest(1024))
        continuation.onTermination = { [weak self] _ in self?.listeners.withLock { $0?[id] = nil } }
        let open = listeners.withLock { listeners in
            listeners?[id] = continuation
            return listeners != nil
        }
        if !open { continuation.finish() }
        return stream
    }

    /// Ends every listener's stream, and those of later subscribers (shutdown: the log
    /// streams that follow them end, so that their connections close).
    public func finishAll() {
        let open = listeners.withLock { listeners in
            defer { listeners = nil }
            return Array((listeners ?? [:]).values)
        }
        for listener in open { listener.finish() }
    }
}
