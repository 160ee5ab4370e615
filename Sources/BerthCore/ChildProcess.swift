import Glibc

/// A program started without any of this process's descriptors but the ones it is given.
///
/// SwiftNIO opens and accepts its sockets without close-on-exec, and a child that holds a
/// copy of a socket keeps the connection open after Berth closes its own: the peer never sees
/// the end (a WebSocket's closing handshake waits for a TCP close that comes when the child
/// exits). Foundation's `Process` closes the descriptors it lists before it forks, so a
/// socket accepted on another thread in between goes to the child; a bare `posix_spawn`
/// hands it every one. Here the child closes every descriptor from 3 on itself, after the
/// fork (glibc's `posix_spawn_file_actions_addclosefrom_np`), which no thread can race.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        case null
        /// The file (created or truncated), for writing; for standard input, read.
        case file(String)
        /// A descriptor of this process, placed at the stream's number in the child.
        case descriptor(Int32)
    }

    /// Starts `path` with `arguments` (without the program's name), this process's
    /// environment with `environment` over it, and `extra` descriptors of this process placed
    /// at 3, 4, … in the child; nothing else of this process's is open in it.
    public static func spawn(
        _ path: String, _ arguments: [String],
        stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null, extra: [Int32] = [], environment: [String: String] = [:]
    ) throws(BerthError) -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (number, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .null: posix_spawn_file_actions_addopen(&actions, number, "/dev/null", number == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let file):
                posix_spawn_file_actions_addopen(&actions, number, file, number == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, number)
            }
        }
        for (offset, fd) in extra.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + offset)) }
        try closeDescriptors(from: Int32(3 + extra.count), in: &actions)

        // Signals as a new program expects them: none blocked, each with its default action
        // (this process ignores SIGPIPE, as SwiftNIO has it, and a child would too).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status: Int32
        if environment.isEmpty {
            status = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        } else {
            var merged: [String: String] = [:]
            var entry = environ
            while let pointer = entry.pointee {
                let text = String(cString: pointer)
                if let equals = text.firstIndex(of: "=") { merged[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
                entry += 1
            }
            merged.merge(environment) { $1 }
            let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for pointer in envp { free(pointer) } }
            status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        }
        guard status == 0 else { throw BerthError(.internal, "\(path) could not start: \(String(cString: strerror(status)))") }
        return ChildProcess(pid: pid)
    }

    /// Blocks until the child ends: its exit code, or 128 + the signal that ended it.
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs `path` to its end, its output and errors read as they come (neither can fill its
    /// pipe while the other is read): the exit code, the output and the errors.
    public static func run(_ path: String, _ arguments: [String]) throws(BerthError) -> (status: Int32, output: [UInt8], errors: [UInt8]) {
        let outPipe = try pipeClosedOnExec(for: path)
        let errPipe: [Int32]
        do { errPipe = try pipeClosedOnExec(for: path) } catch {
            close(outPipe[0]); close(outPipe[1])
            throw error
        }
        let child: ChildProcess
        do {
            child = try spawn(path, arguments, stdout: .descriptor(outPipe[1]), stderr: .descriptor(errPipe[1]))
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        var output: [UInt8] = [], errors: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polled, nfds_t(polled.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for entry in polled where entry.revents != 0 {
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if entry.fd == outPipe[0] { output += chunk[0..<count] } else { errors += chunk[0..<count] }
                } else if count == 0 || errno != EINTR {
                    close(entry.fd)
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        for fd in open { close(fd) }
        return (child.wait(), output, errors)
    }

    /// Runs `path` to its end with its output and errors in one pipe, handing each line to
    /// `onLine` as it comes (a build's progress); the exit code.
    public static func run(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], onLine: (String) -> Void
    ) throws(BerthError) -> Int32 {
        let ends = try pipeClosedOnExec(for: path)
        let child: ChildProcess
        do {
            child = try spawn(path, arguments, stdout: .descriptor(ends[1]), stderr: .descriptor(ends[1]), environment: environment)
        } catch {
            for fd in ends { close(fd) }
            throw error
        }
        close(ends[1])
        readLines(ends[0], onLine)
        return child.wait()
    }

    /// Reads `fd` to its end (blocking), handing each line to `onLine`, then closes it.
    public static func readLines(_ fd: Int32, _ onLine: (String) -> Void) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            pending += chunk[0..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                onLine(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
        close(fd)
    }

    /// A pipe whose ends a child gets only when it is given them.
    public static func pipeClosedOnExec(for path: String) throws(BerthError) -> [Int32] {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw BerthError(.internal, "no pipe for \(path): \(String(cString: strerror(errno)))") }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return ends
    }

    /// Adds to `actions` the closing, in the child, of every descriptor from `lowest` on.
    private static func closeDescriptors(from lowest: Int32, in actions: inout posix_spawn_file_actions_t) throws(BerthError) {
        guard let addCloseFrom = Self.addCloseFrom else {
            throw BerthError(
                .internal,
                "Berth starts programs with glibc's posix_spawn_file_actions_addclosefrom_np, which this C library lacks; run Berth on glibc 2.34 or later (Debian 12, Ubuntu 22.04 or newer)"
            )
        }
        let status = addCloseFrom(&actions, lowest)
        guard status == 0 else { throw BerthError(.internal, "posix_spawn_file_actions_addclosefrom_np failed: \(String(cString: strerror(status)))") }
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc declares it only for `_DEFAULT_SOURCE`, which Swift's Glibc module leaves out.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}
