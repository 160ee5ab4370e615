import BerthCore
import DockerEngine
import Foundation
import Logging
import Synchronization

/// Exit watching for every container of a Docker driver over one engine events stream,
/// instead of one `wait` connection per running container.
///
/// A wait registers first and then looks at the container once, so an exit before the
/// stream saw it is not missed; each (re)connection of the stream looks at every container
/// waited for, so an exit while the stream was down is not missed either. The stream runs
/// while someone waits and ends when nobody does.
final class DockerExitWatcher: Sendable {
    private struct State {
        var waiters: [String: [Int: CheckedContinuation<Int, any Error>]] = [:]
        var nextToken = 0
        var streaming = false
    }

    let client: DockerClient
    let logger: Logger
    /// Distrusted from the stream's reconnection after a break until every container waited
    /// for was looked at again: meanwhile the engine may have given a lost container's
    /// address to another one.
    let sight = EngineSight()
    private let state = Mutex(State())

    init(client: DockerClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Waits until `containerID` is not running and returns its exit code.
    func wait(_ containerID: String) async throws(BerthError) -> Int {
        let token = state.withLock { state -> Int in
            state.nextToken += 1
            return state.nextToken
        }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                    let startStream = state.withLock { state -> Bool in
                        if Task.isCancelled {
                            continuation.resume(throwing: CancellationError())
                            return false
                        }
                        state.waiters[containerID, default: [:]][token] = continuation
                        defer { state.streaming = true }
                        return !state.streaming
                    }
                    if startStream { Task { await self.stream() } }
                    Task { await self.check([containerID]) }
                }
            } onCancel: {
                let cancelled = state.withLock { $0.waiters[containerID]?.removeValue(forKey: token) }
                cancelled?.resume(throwing: CancellationError())
            }
        } catch {
            throw BerthError(.timeout, "waiting for container \(containerID) to exit was cancelled", cause: error)
        }
    }

    /// Follows `die` and `destroy` events while anyone waits; reconnects after a failure.
    private func stream() async {
        var failures = 0
        // Whether the stream broke (an error, or the engine ending it) while someone waited:
        // the engine was out of sight for a while.
        var lostSight = false
        while true {
            let waited = state.withLock { state -> [String]? in
                if state.waiters.isEmpty {
                    state.streaming = false
                    return nil
                }
                return Array(state.waiters.keys)
            }
            guard let waited else {
                sight.trust()
                return
            }
            do {
                let events = try await client.events(EventFilters(types: ["container"], actions: ["die", "destroy"]))
                // Back after a break: no new connection to any container until each was
                // looked at; the look answered for all of them, or the next reconnection tries.
                if lostSight { sight.distrust() }
                lostSight = false
                failures = 0
                // Exits while the stream was not open yet. When the engine did not answer for
                // every container, the stream is opened again and they are looked at again,
                // so a distrusted sight is never left waiting for a reconnection.
                guard await check(waited) else {
                    if !sight.trusted { lostSight = true }
                    try? await Task.sleep(for: .milliseconds(200))
                    continue
                }
                if !sight.trusted {
                    // The lost containers' objects end their instances on their own tasks,
                    // which close their gates: a moment for that before new connections.
                    try? await Task.sleep(for: .milliseconds(200))
                    sight.trust()
                }
                for try await event in events {
                    resolve(event.actor.id, exitCode: event.exitCode ?? -1)
                    if state.withLock({ $0.waiters.isEmpty }) { break }
                }
                // Ended by the engine (its shutdown, say) while someone still waits.
                if !state.withLock({ $0.waiters.isEmpty }) { lostSight = true }
            } catch {
                lostSight = true
                failures += 1
                if failures == 1 || failures % 30 == 0 {
                    logger.warning("the engine's event stream failed; reconnecting", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(1000, 50 * failures)))
            }
        }
    }

    /// Resolves the waits of containers among `ids` that are not running (or are gone);
    /// whether the engine answered for every one.
    private func check(_ ids: [String]) async -> Bool {
        var answered = true
        for id in ids {
            do {
                let details = try await client.inspectContainer(id)
                if !details.state.running { resolve(id, exitCode: details.state.exitCode) }
            } catch where error.code == .notFound {
                resolve(id, exitCode: -1)
            } catch {
                // The engine did not answer: the stream's reconnection looks again.
                answered = false
            }
        }
        return answered
    }

    private func resolve(_ containerID: String, exitCode: Int) {
        let waiting = state.withLock { $0.waiters.removeValue(forKey: containerID) } ?? [:]
        for continuation in waiting.values { continuation.resume(returning: exitCode) }
    }
}
