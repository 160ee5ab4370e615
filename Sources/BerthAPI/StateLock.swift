import BerthCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One server per state folder: an exclusive `flock` on `server.lock`, held while the server
/// runs. The kernel drops it when the process ends however it ends (a `kill -9` too), so a
/// lock is never stale; the file itself only says who holds it (pid and command line).
public final class StateLock: Sendable {
    public let path: String
    private let descriptor: Mutex<Int32?>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// Takes the lock of `state`, or throws a conflict naming the process that holds it.
    public static func acquire(_ state: StateDirectory) throws(BerthError) -> StateLock {
        let path = state.lockPath
        // Close-on-exec: a process the server starts (a Worker) must not keep the lock.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BerthError(.invalidInput, "cannot open the state folder's lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let problem = errno
            let holder = holderText(fd)
            close(fd)
            guard problem == EWOULDBLOCK else {
                throw BerthError(.internal, "cannot lock the state folder \(state.path): \(String(cString: strerror(problem)))")
            }
            throw BerthError(
                .conflict,
                "the state folder \(state.path) is in use by another Berth server (\(holder)); stop that server first, or give this one another state folder (berth.state_dir)"
            )
        }
        let text = "\(getpid())\n\(commandLine(of: getpid()) ?? CommandLine.arguments.joined(separator: " "))\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return StateLock(path: path, descriptor: fd)
    }

    /// Gives the lock up; later calls do nothing.
    public func release() {
        descriptor.withLock { fd in
            guard let open = fd else { return }
            close(open)
            fd = nil
        }
    }

    deinit { release() }

    /// "pid N, <command line>" from the lock file (the command line as the system shows it
    /// now, when it can).
    static func holderText(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = pread(fd, &buffer, buffer.count, 0)
        let lines = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).split(separator: "\n", maxSplits: 1)
        guard let first = lines.first, let pid = Int32(first.trimmingCharacters(in: .whitespaces)) else {
            return "a process that has not said who it is yet"
        }
        let command = commandLine(of: pid) ?? lines.dropFirst().first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        return command.map { "pid \(pid): \($0)" } ?? "pid \(pid)"
    }

    /// A process's command line from /proc, when there is one.
    static func commandLine(of pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
    }
}

extension StateDirectory {
    /// The lock a running server holds (see ``StateLock``).
    public var lockPath: String { file("server.lock") }
}
