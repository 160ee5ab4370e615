import BerthCore
import Synchronization

/// At most `limit` container starts (create + start on the engine) at once for the whole
/// server; the others wait in arrival order. Fifty creates at once swamp an engine on two
/// cores so that many take longer than `instance_get_timeout`; in a queue each finishes in
/// a fraction of that. Only starts that hold a `max_instances` slot queue, so the queue is
/// never longer than the sum of the classes' `max_instances`.
public final class EnginePacer: Sendable {
    private struct State {
        var limit: Int
        var running = 0
        var queue: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    public init(limit: Int) {
        state = Mutex(State(limit: max(1, limit)))
    }

    /// Starts allowed at once; raising it lets queued starts go now.
    public var limit: Int {
        get { state.withLock { $0.limit } }
        set {
            let released: [CheckedContinuation<Void, Never>] = state.withLock { state in
                state.limit = max(1, newValue)
                var released: [CheckedContinuation<Void, Never>] = []
                while state.running < state.limit, !state.queue.isEmpty {
                    state.running += 1
                    released.append(state.queue.removeFirst())
                }
                return released
            }
            for waiter in released { waiter.resume() }
        }
    }

    /// Starts in progress now.
    public var running: Int { state.withLock { $0.running } }
    /// Starts waiting for their turn now.
    public var waiting: Int { state.withLock { $0.queue.count } }

    /// Runs `body` once fewer than `limit` others run, in the order the calls came.
    public func run<T: Sendable>(_ body: @Sendable () async throws(BerthError) -> T) async throws(BerthError) -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let now: Bool = state.withLock { state in
                if state.running < state.limit, state.queue.isEmpty {
                    state.running += 1
                    return true
                }
                state.queue.append(waiter)
                return false
            }
            if now { waiter.resume() }
        }
    }

    private func release() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            // The turn passes to the first in line while the limit allows (it may have been lowered).
            if state.running <= state.limit, !state.queue.isEmpty { return state.queue.removeFirst() }
            state.running -= 1
            return nil
        }
        next?.resume()
    }
}
