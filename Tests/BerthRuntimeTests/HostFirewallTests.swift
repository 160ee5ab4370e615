import BerthCore
import Foundation
import Testing

@testable import BerthRuntime

/// The host firewall's one chain, changed by several servers at once: each adds its bridge's
/// rules and removes them again while the others do the same. Needs root and iptables (as
/// `enable_internet: false` does); bridges of the test's own with no ports (never up) stand in, so no real
/// traffic is ever dropped.
@Suite(
    "The host firewall under concurrent servers",
    .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables"), "needs root and iptables; `make test` runs as root")
)
struct HostFirewallTests {
    @Test("three servers isolating and releasing their bridges at once: every change succeeds, nothing is left")
    func concurrentChanges() async throws {
        let names = (0..<3).map { "berthfw\($0)\(Int.random(in: 100...999))" }
        for name in names { try Self.ip(["link", "add", name, "type", "bridge"]) }
        defer { for name in names { try? Self.ip(["link", "delete", name]) } }
        let failures = await withTaskGroup(of: [String].self) { group in
            for name in names {
                // Each server on a thread of its own: iptables and the lock block.
                group.addTask {
                    await withCheckedContinuation { continuation in
                        DispatchQueue.global().async {
                            var failures: [String] = []
                            let firewall = HostFirewall()
                            for _ in 0..<15 {
                                do throws(BerthError) { try firewall.isolate(bridge: name) } catch { failures.append(error.message) }
                                if !firewall.rules().contains(where: { $0.contains(name) }) { failures.append("\(name)'s rules missing after isolate") }
                                firewall.release(bridge: name)
                            }
                            continuation.resume(returning: failures)
                        }
                    }
                }
            }
            var all: [String] = []
            for await failures in group { all += failures }
            return all
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(!HostFirewall().rules().contains { rule in names.contains { rule.contains($0) } }, "every rule of these bridges is gone")
    }

    static func ip(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BerthError(.internal, "ip \(arguments.joined(separator: " ")) failed") }
    }
}
