import Berth
import BerthControlPlane
import BerthCore
import Foundation
import Logging
import Synchronization

/// The Worker of one deployment as the gateway holds it: the process that runs it now,
/// started again with backoff whenever it ends, until the deployment is retired. A crash ends
/// the requests in flight with 502 and its reason; requests that come while it restarts wait
/// for the new process (up to `restartWait`), then get 503 with the reason.
final class SupervisedWorker: Worker, Sendable {
    let deploymentID: String
    let path: String
    let hello: WireHello
    /// The Container classes the Worker declares.
    let classes: Set<String>
    let logger: Logger
    let deadline: Duration
    let say: @Sendable (String) -> Void
    static let restartWait: Duration = .seconds(10)

    private struct State {
        var current: WorkerProcessHandle?
        var platform: Platform?
        var retired = false
        var lastExit: String?
        var restarts = 0
        /// Requests admitted to the current process and not yet answered by it (its own
        /// count, ``Flights``, takes over from there until their bodies end).
        var admitted = 0
        var waiters: [CheckedContinuation<WorkerProcessHandle?, Never>] = []
    }

    private let state = Mutex(State())

    init(
        deploymentID: String, path: String, hello: WireHello, classes: Set<String>, logger: Logger, deadline: Duration,
        say: @escaping @Sendable (String) -> Void
    ) {
        self.deploymentID = deploymentID
        self.path = path
        self.hello = hello
        self.classes = classes
        self.logger = logger
        self.deadline = deadline
        self.say = say
    }

    /// Starts the first process and returns once it is ready.
    func launch() async throws(BerthError) {
        let handle = try await start()
        state.withLock { $0.current = handle }
        watch(handle)
    }

    /// One process, said hello to, ready.
    private func start() async throws(BerthError) -> WorkerProcessHandle {
        let handle = try await WorkerProcessHandle.spawn(path, logger: logger, deadline: deadline, say: say)
        do {
            _ = try await withThrowingTaskGroup(of: [String: ContainerProperties].self) { group in
                group.addTask { try await handle.worker.start(hello: self.hello) }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    throw BerthError(.timeout, "the Worker process did not say it was ready within 30s")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch {
            await handle.stop(grace: .seconds(1))
            let reason = handle.status.map { " (it \(WorkerProcessHandle.describe($0)))" } ?? ""
            throw BerthError(.workerFailed, "the Worker process \(path) did not start\(reason): \(BerthError.wrap(error).message)")
        }
        if let platform = state.withLock({ $0.platform }) { handle.worker.serve(platform) }
        return handle
    }

    /// Restarts the process whenever it ends, with backoff, until retired.
    private func watch(_ handle: WorkerProcessHandle) {
        let started = ContinuousClock.now
        Task {
            let status = await handle.waitForExit()
            let reason = WorkerProcessHandle.describe(status)
            let delay: Duration? = state.withLock { state in
                guard !state.retired, state.current === handle else { return nil }
                state.current = nil
                state.lastExit = reason
                if started.duration(to: .now) > .seconds(30) { state.restarts = 0 }
                let delay = Duration.milliseconds(100) * (1 << min(state.restarts, 7))
                state.restarts += 1
                return min(delay, .seconds(10))
            }
            guard let delay else { return }
            logger.error("the Worker process ended; restarting", metadata: ["deployment": "\(deploymentID)", "reason": "\(reason)", "in": "\(delay)"])
            say("error: the Worker process \(reason); restarting in \(DurationText.format(delay))")
            await restart(after: delay)
        }
    }

    private func restart(after delay: Duration) async {
        var delay = delay
        while true {
            try? await Task.sleep(for: delay)
            if state.withLock({ $0.retired }) { return }
            do throws(BerthError) {
                let handle = try await start()
                let waiters = state.withLock { state in
                    state.current = handle
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: handle) }
                watch(handle)
                say("the Worker process is running again")
                return
            } catch {
                say("error: \(error.message)")
                state.withLock { $0.lastExit = error.message }
                delay = min(delay * 2, .seconds(10))
            }
        }
    }

    /// Serves `platform`: the process's stubs reach its classes.
    func serve(_ platform: Platform) {
        let handle = state.withLock { state in
            state.platform = platform
            return state.current
        }
        handle?.worker.serve(platform)
    }

    /// The process running now; while it restarts, waits for the next one up to `wait`.
    /// A process whose link has closed is on its way out (its exit not seen yet): requests
    /// wait for the next one rather than fail on it.
    private func current(waiting wait: Duration) async -> WorkerProcessHandle? {
        if let handle = state.withLock({ $0.current }), handle.worker.isLinked { return handle }
        let timeout = Task {
            try await Task.sleep(for: wait)
            let waiters = self.state.withLock { state in
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: nil) }
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { waiter in
            let now: WorkerProcessHandle?? = state.withLock { state in
                if let current = state.current, current.worker.isLinked { return .some(current) }
                if state.retired { return .some(nil) }
                state.waiters.append(waiter)
                return .none
            }
            if let now { waiter.resume(returning: now) }
        }
    }

    func fetch(_ request: Request, env: Env) async throws -> Response {
        guard let handle = await current(waiting: Self.restartWait) else {
            let reason = state.withLock { $0.lastExit } ?? "is not running"
            return .error(BerthError(.unavailable, "the Worker is restarting (it \(reason)); try again in a moment"))
        }
        // Counted under the lock that retiring takes, so that a version is never stopped
        // between a request finding its process and the process counting it.
        let admitted = state.withLock { state -> Bool in
            guard state.current === handle else { return false }
            state.admitted += 1
            return true
        }
        guard admitted else {
            return .error(BerthError(.unavailable, "the Worker version this request reached stopped as it arrived (a deploy replaced it); try again"))
        }
        defer { state.withLock { $0.admitted -= 1 } }
        return try await handle.worker.fetch(request, env: env)
    }

    /// A hook of an object of one of the Worker's classes, run in the process now running.
    func runHook(_ hook: WireHook, of object: WireObject) async -> Bool {
        guard let handle = state.withLock({ $0.current }) else { return true }
        return await handle.worker.runHook(hook, of: object)
    }

    /// Runs the object's alarm in the process running now: thrown as `.unavailable` when
    /// none runs (it is asked again shortly), as the process's error when its alarm threw.
    func runAlarm(_ info: AlarmInfo, of object: WireObject) async throws(BerthError) {
        guard let handle = state.withLock({ $0.current }) else { throw BerthError(.unavailable, "the Worker process is not running") }
        try await handle.worker.runAlarm(info, of: object)
    }

    /// Whether the process running now has a request of `object` in flight: a stub's call
    /// being answered, or requests under a standing lease on its container.
    func hasInFlight(_ object: WireObject) -> Bool {
        state.withLock { $0.current }?.worker.hasInFlight(object) ?? false
    }

    /// Stops restarting; once no request is in flight (or after `grace`), stops the process.
    func retire(grace: Duration) async {
        let handle = state.withLock { state in
            state.retired = true
            let waiters = state.waiters
            state.waiters = []
            for waiter in waiters { waiter.resume(returning: nil) }
            return state.current
        }
        guard let handle else { return }
        let deadline = ContinuousClock.now.advanced(by: grace)
        // Requests that picked this version just before the switch reach it within moments.
        if grace > .zero { try? await Task.sleep(for: min(grace, .milliseconds(100))) }
        while ContinuousClock.now < deadline {
            // Idle, checked and cleared in one step with admission: nothing new gets in.
            let idle = state.withLock { state -> Bool in
                guard state.admitted == 0, handle.worker.flights.inFlight == 0 else { return false }
                state.current = nil
                return true
            }
            if idle { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        state.withLock { $0.current = nil }
        await handle.stop()
    }
}
