import BerthAPI
import BerthRuntime
import Logging
import ServiceLifecycle

/// Writes instance events to the state store off the request path: controllers hand events
/// to a queue, this service drains it, and on shutdown writes what is left before it stops.
///
/// It keeps the store to `retention` (``EventRetention``): once when it starts and after every
/// `pruneEvery` events it writes.
public final class StateRecorder: InstanceObserver, Service {
    let store: StateStore
    let logger: Logger
    let retention: EventRetention
    let pruneEvery: Int
    private let events: AsyncStream<(InstanceRecord, InstanceEvent)>
    private let continuation: AsyncStream<(InstanceRecord, InstanceEvent)>.Continuation

    public init(store: StateStore, logger: Logger, retention: EventRetention = EventRetention(), pruneEvery: Int = 10_000) {
        self.store = store
        self.logger = logger
        self.retention = retention
        self.pruneEvery = max(1, pruneEvery)
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
            await prune()
            var written = 0
            for await (record, event) in events {
                do { try await store.record(record, event) } catch {
                    logger.warning("could not record an instance event", metadata: ["error": "\(error)"])
                }
                written += 1
                if written % pruneEvery == 0 { await prune() }
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
    }

    private func prune() async {
        do { try await store.prune(retention) } catch {
            logger.warning("could not prune old instance events", metadata: ["error": "\(error)"])
        }
    }
}
