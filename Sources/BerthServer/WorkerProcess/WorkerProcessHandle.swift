import Berth
import BerthCore
import Foundation
import Logging
import Synchronization

/// One running Worker executable: the child process, its end of the link, and its output,
/// read line by line on a thread of its own and said with a `[worker]` prefix.
final class WorkerProcessHandle: Sendable {
    let child: ChildProcess
    let worker: ProcessWorker
    private let exit = Mutex<Int32?>(nil)
    private let exited = Mutex<[CheckedContinuation<Int32, Never>]>([])

    private init(child: ChildProcess, worker: ProcessWorker) {
        self.child = child
        self.worker = worker
    }

    /// Starts `path` with its end of a new socket pair as descriptor 3.
    static func spawn(
        _ path: String, logger: Logger, deadline: Duration, say: @escaping @Sendable (String) -> Void
    ) async throws(BerthError) -> WorkerProcessHandle {
        var ends: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw BerthError(.internal, "cannot make the Worker's socket pair: \(String(cString: strerror(errno)))")
        }
        let output: [Int32]
        do { output = try ChildProcess.pipeClosedOnExec(for: path) } catch {
            close(ends[0])
            close(ends[1])
            throw error
        }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                path, [WireFrame.descriptorArgument, "3"], stdout: .descriptor(output[1]), stderr: .descriptor(output[1]), extra: [ends[1]]
            )
        } catch {
            for fd in [ends[0], ends[1], output[0], output[1]] { close(fd) }
            throw error
        }
        close(ends[1])
        close(output[1])
        let exitBox = Mutex<String?>(nil)
        let worker: ProcessWorker
        do {
            worker = try await ProcessWorker.connect(
                descriptor: ends[0], logger: logger, deadline: deadline, exitReason: { exitBox.withLock { $0 } ?? "closed its link" }
            )
        } catch {
            kill(child.pid, SIGKILL)
            close(ends[0])
            close(output[0])
            throw BerthError.wrap(error, "cannot speak to the Worker process")
        }
        let handle = WorkerProcessHandle(child: child, worker: worker)
        Self.follow(output[0], say: say)
        Thread.detachNewThread {
            let status = child.wait()
            exitBox.withLock { $0 = Self.describe(status) }
            handle.ended(status)
        }
        return handle
    }

    /// "exited with code 3", "was killed by signal 9 (SIGKILL)".
    static func describe(_ status: Int32) -> String {
        guard status > 128 else { return "exited with code \(status)" }
        let signal = status - 128
        let names: [Int32: String] = [SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGTERM: "SIGTERM", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGBUS: "SIGBUS"]
        return "was killed by signal \(signal)" + (names[signal].map { " (\($0))" } ?? "")
    }

    private func ended(_ status: Int32) {
        let waiters = exit.withLock { exit in
            exit = status
            return exited.withLock { waiters in
                defer { waiters = [] }
                return waiters
            }
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    /// The exit status, once the process has ended.
    var status: Int32? { exit.withLock { $0 } }

    /// Returns the exit status once the process ends.
    func waitForExit() async -> Int32 {
        await withCheckedContinuation { waiter in
            let now: Int32? = exit.withLock { exit in
                if let exit { return exit }
                exited.withLock { $0.append(waiter) }
                return nil
            }
            if let now { waiter.resume(returning: now) }
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; returns once the process has ended.
    func stop(grace: Duration = .seconds(5)) async {
        worker.link.close()
        guard status == nil else { return }
        kill(child.pid, SIGTERM)
        let killer = Task {
            try await Task.sleep(for: grace)
            kill(child.pid, SIGKILL)
        }
        _ = await waitForExit()
        killer.cancel()
    }

    /// Reads the process's output, one line at a time, until it ends.
    private static func follow(_ fd: Int32, say: @escaping @Sendable (String) -> Void) {
        Thread.detachNewThread {
            ChildProcess.readLines(fd) { say("[worker] " + $0) }
        }
    }
}

extension ProcessWorker {
    /// Starts `executable` as a Worker process on a new socket pair, as the supervisor does for
    /// a deployment, for embedding code (the benchmarks): the Worker (say hello with
    /// ``start(serving:secrets:)``), and what stops the process.
    public static func spawn(
        executable: String, logger: Logger, deadline: Duration, say: @escaping @Sendable (String) -> Void
    ) async throws(BerthError) -> (worker: ProcessWorker, stop: @Sendable () async -> Void) {
        let handle = try await WorkerProcessHandle.spawn(executable, logger: logger, deadline: deadline, say: say)
        return (handle.worker, { await handle.stop() })
    }
}
