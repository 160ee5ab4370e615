import BerthCore
import Foundation
import Glibc
import Testing

/// Children start with none of this process's descriptors but their standard streams and the
/// ones they are given: a socket of the server's in a child would keep its connection open.
@Suite("Child processes")
struct ChildProcessTests {
    /// The descriptors open in a child (`ls /proc/self/fd`, less the one ls reads it by).
    static func descriptorsOfChild(extra: [Int32] = []) throws -> [String] {
        let listing = NSTemporaryDirectory() + "berth-child-fds-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: listing) }
        let child = try ChildProcess.spawn("/bin/sh", ["-c", "ls -l /proc/$$/fd; true"], stdout: .file(listing), extra: extra)
        #expect(child.wait() == 0)
        let text = try String(contentsOfFile: listing, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard let arrow = parts.firstIndex(of: "->"), arrow > 0 else { return nil }
            return "\(parts[arrow - 1]) \(parts[(arrow + 1)...].joined(separator: " "))"
        }
    }

    @Test("a socket without close-on-exec (as SwiftNIO opens them) is not open in the child; extra descriptors are, at 3 on")
    func noInheritedSockets() throws {
        let sockets = (0..<8).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { for fd in sockets { close(fd) } }
        #expect(sockets.allSatisfy { $0 >= 0 && fcntl($0, F_GETFD) & FD_CLOEXEC == 0 })

        let open = try Self.descriptorsOfChild()
        #expect(open.map { $0.split(separator: " ")[0] }.sorted() == ["0", "1", "2"], "\(open)")
        #expect(!open.contains { $0.contains("socket:") }, "\(open)")

        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let given = try Self.descriptorsOfChild(extra: [ends[1]])
        #expect(given.map { $0.split(separator: " ")[0] }.sorted() == ["0", "1", "2", "3"], "\(given)")
        #expect(given.contains { $0.hasPrefix("3 pipe:") }, "\(given)")
    }

    @Test("run: the exit code, the output and the errors, each whole (more than a pipe holds)")
    func run() throws {
        let ran = try ChildProcess.run("/bin/sh", ["-c", "head -c 200000 /dev/zero; echo oops >&2; head -c 100000 /dev/zero >&2; exit 3"])
        #expect(ran.status == 3)
        #expect(ran.output.count == 200_000)
        #expect(ran.errors.count == 100_005 && String(decoding: ran.errors.prefix(5), as: UTF8.self) == "oops\n")
        let killed = try ChildProcess.spawn("/bin/sh", ["-c", "kill -TERM $$"])
        #expect(killed.wait() == 128 + SIGTERM)
        // SIGPIPE has its default action in the child, whatever this process does with it.
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let defaults = try ChildProcess.run("/bin/sh", ["-c", "exec grep -E '^Sig(Ign|Blk)' /proc/self/status"])
        let masks = Dictionary(uniqueKeysWithValues: String(decoding: defaults.output, as: UTF8.self).split(separator: "\n").compactMap { line -> (String, UInt64)? in
            let parts = line.split(separator: ":")
            guard parts.count == 2, let mask = UInt64(parts[1].trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
            return (String(parts[0]), mask)
        })
        #expect(masks["SigBlk"] == 0, "no signal blocked: \(masks)")
        // Signals 1 to 31 at their defaults (glibc keeps its own, 32 and 33, to itself).
        #expect(masks["SigIgn"].map { $0 & 0x7fff_ffff } == 0, "no signal ignored: \(masks)")
        #expect(throws: BerthError.self) { try ChildProcess.spawn("/nonexistent/program", []) }
    }
}
