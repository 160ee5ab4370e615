import BerthCore
import Foundation

/// The host's firewall rules that keep containers on an isolated bridge from connecting to
/// the host: in the `filter` table, INPUT jumps to chain `BERTH-ISOLATION`, which, for each
/// isolated bridge, lets through replies to connections the host opened (so Berth reaches
/// the container) and drops everything else the bridge sends to the host's own addresses.
/// Needs `iptables` and the right to change rules (root, or CAP_NET_ADMIN).
struct HostFirewall: Sendable {
    static let chain = "BERTH-ISOLATION"
    /// Where `iptables` is looked for, in order.
    var candidates = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables", "/bin/iptables"]

    /// Adds the rules for `bridge` unless present; removes those of bridges that no longer exist.
    func isolate(bridge: String) throws(BerthError) {
        try Self.exclusively { () throws(BerthError) in try addRules(bridge: bridge) }
    }

    private func addRules(bridge: String) throws(BerthError) {
        if (try? run(["-S", Self.chain])) == nil { _ = try run(["-N", Self.chain]) }
        if (try? run(["-C", "INPUT", "-j", Self.chain])) == nil { _ = try run(["-I", "INPUT", "1", "-j", Self.chain]) }
        pruneVanishedBridges()
        let replies = ["-i", bridge, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"]
        if (try? run(["-C", Self.chain] + replies)) == nil { _ = try run(["-I", Self.chain, "1"] + replies) }
        let drop = ["-i", bridge, "-j", "DROP"]
        if (try? run(["-C", Self.chain] + drop)) == nil { _ = try run(["-A", Self.chain] + drop) }
    }

    /// Removes the rules for `bridge`, and the chain and its jump once no bridge is left.
    func release(bridge: String) {
        Self.exclusively {
            for rule in rules() where rule.contains(bridge) { _ = try? run(["-D"] + rule.dropFirst()) }
            removeChainIfEmpty()
        }
    }

    /// The lock file every Berth process on the machine takes around a change of the chain.
    static let lockPath = FileManager.default.fileExists(atPath: "/run/lock") ? "/run/lock/berth-isolation.lock" : "/tmp/berth-isolation.lock"

    /// Runs `body` holding ``lockPath`` (`flock`, exclusive): the chain is one for the whole
    /// machine, and one server removing it as empty while another is between creating it and
    /// adding its rules would leave the second with `Chain 'BERTH-ISOLATION' does not exist`
    /// (two projects on one machine, or two tests at once). `flock` serializes threads of one
    /// process too, each open being its own. Without the lock file, as before: unserialized.
    static func exclusively<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        let descriptor = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return try body() }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// The chain's rules as `iptables -S` prints them (`-A BERTH-ISOLATION -i br-… -j DROP`), split.
    func rules() -> [[String]] {
        guard let text = try? run(["-S", Self.chain]) else { return [] }
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.filter { $0.first == "-A" }
    }

    private func pruneVanishedBridges() {
        for rule in rules() {
            guard let i = rule.firstIndex(of: "-i"), i + 1 < rule.count else { continue }
            if !FileManager.default.fileExists(atPath: "/sys/class/net/\(rule[i + 1])") { _ = try? run(["-D"] + rule.dropFirst()) }
        }
    }

    private func removeChainIfEmpty() {
        guard (try? run(["-S", Self.chain])) != nil, rules().isEmpty else { return }
        _ = try? run(["-D", "INPUT", "-j", Self.chain])
        _ = try? run(["-X", Self.chain])
    }

    /// Runs `iptables -w 5 <arguments>` and returns its output; throws with its message when
    /// it fails or cannot run.
    @discardableResult
    func run(_ arguments: [String]) throws(BerthError) -> String {
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Self.failure("iptables is not installed (looked in \(candidates.joined(separator: ", ")))")
        }
        // Not Foundation's Process: a client socket the gateway accepts meanwhile must not
        // go to iptables (see ChildProcess).
        let ran: (status: Int32, output: [UInt8], errors: [UInt8])
        do { ran = try ChildProcess.run(path, ["-w", "5"] + arguments) } catch { throw Self.failure(error.message) }
        guard ran.status == 0 else {
            let message = String(decoding: ran.errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Self.failure("iptables \(arguments.joined(separator: " ")) failed (exit \(ran.status)): \(message)")
        }
        return String(decoding: ran.output, as: UTF8.self)
    }

    static func failure(_ detail: String) -> BerthError {
        BerthError(
            .startFailed,
            "enable_internet: false needs firewall rules of Berth's own, and they could not be set: \(detail). "
                + "Run Berth as root (or with CAP_NET_ADMIN) on the engine's machine with iptables installed, or set enable_internet to true"
        )
    }
}
