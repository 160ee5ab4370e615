/// How tightly a class's containers are confined (`berth.classes.<Class>`: `pids_limit`,
/// `no_new_privileges`, `cap_add`, `read_only_root`). The defaults suit a server on a port
/// above 1024: every capability dropped, none added back, at most 512 processes.
public struct ContainerIsolation: Sendable, Equatable, Codable {
    /// Processes and threads a container may hold at once; 0: no limit.
    public var pidsLimit = 512
    /// Whether no process in the container may gain privileges (setuid binaries, file
    /// capabilities).
    public var noNewPrivileges = true
    /// Capabilities added back after dropping all, without `CAP_` (`NET_BIND_SERVICE`).
    public var capAdd: [String] = []
    /// Whether the image's root filesystem is read-only; `/tmp` stays writable (tmpfs).
    public var readOnlyRoot = false
    /// How much output the engine keeps (`logs`).
    public var logs = ContainerLogs()

    public init() {}

    enum CodingKeys: String, CodingKey {
        case pidsLimit = "pids_limit", noNewPrivileges = "no_new_privileges", capAdd = "cap_add", readOnlyRoot = "read_only_root"
        case logs
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pidsLimit = try c.decodeIfPresent(Int.self, forKey: .pidsLimit) ?? 512
        noNewPrivileges = try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? true
        capAdd = try c.decodeIfPresent([String].self, forKey: .capAdd) ?? []
        readOnlyRoot = try c.decodeIfPresent(Bool.self, forKey: .readOnlyRoot) ?? false
        logs = try c.decodeIfPresent(ContainerLogs.self, forKey: .logs) ?? ContainerLogs()
    }

    /// The capabilities a container gets: `capAdd`, plus `NET_BIND_SERVICE` when one of
    /// `ports` lies below 1024 (binding it needs that capability).
    public func capabilities(ports: [Int]) -> [String] {
        var result = capAdd
        if ports.contains(where: { $0 < 1024 }), !result.contains("NET_BIND_SERVICE"), !result.contains("ALL") {
            result.append("NET_BIND_SERVICE")
        }
        return result
    }

    /// `NET_BIND_SERVICE` for `net_bind_service` or `CAP_NET_BIND_SERVICE`; nil for a name
    /// Linux does not have.
    public static func capabilityName(_ text: String) -> String? {
        var name = text.uppercased()
        if name.hasPrefix("CAP_") { name.removeFirst(4) }
        return capabilities.contains(name) || name == "ALL" ? name : nil
    }

    /// Linux's capabilities (capabilities(7)), without `CAP_`.
    public static let capabilities: Set<String> = [
        "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE",
        "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN",
        "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID",
        "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT",
        "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
    ]
}
