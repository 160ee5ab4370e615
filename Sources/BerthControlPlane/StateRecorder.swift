import BerthAPI
import BerthRuntime
import Logging
import ServiceLifecycle

/// Writes instance events to the state store off the request path: controllers hand events
/// to a queue, this service drains it, and on shutdown writes what is left before it stops.
public final class StateRecorder: InstanceObserver, Service {
    let store: StateStore
    let logger: Logger
    private let events: AsyncStream<(InstanceRecord, InstanceEvent)>
    private let continuation: AsyncStream<(InstanceRecord, InstanceEvent)>.Continuation

    public init(store: StateStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    public func instance(_ record: InstanceRecord, _ event: InstanceEvent) {
        continuation.yield((record, event))
    }

    public func run() async throws {
        let continuation = self.continuation
        // On shutdown, stop taking events once everything else has stopped (this service
        // shuts down last), then drain.
        try await withGracefulShutdownHandler {
            for await (record, event) in events {
                do { try await store.record(record, event) } catch {
                    logger.warning("could not record an instance event", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }
}
