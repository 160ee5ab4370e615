import BerthCore
import Foundation

/// One reading of a container's resource use (`GET /containers/{id}/stats`, one-shot).
public struct ContainerStats: Decodable, Sendable {
    /// Total CPU time the container used, in nanoseconds.
    public var cpuTotalNanoseconds: UInt64
    /// The host's total CPU time, in nanoseconds (to turn deltas into a share).
    public var systemCPUNanoseconds: UInt64
    public var onlineCPUs: Int
    public var memoryUsageBytes: UInt64
    public var memoryLimitBytes: UInt64
    /// Processes and threads in the container now.
    public var pids: Int

    struct CPUStats: Decodable {
        struct Usage: Decodable { var total_usage: UInt64? }
        var cpu_usage: Usage?
        var system_cpu_usage: UInt64?
        var online_cpus: Int?
    }

    struct MemoryStats: Decodable {
        var usage: UInt64?
        var limit: UInt64?
        var stats: [String: UInt64]?
    }

    struct PidsStats: Decodable { var current: Int? }

    enum CodingKeys: String, CodingKey { case cpu_stats, memory_stats, pids_stats }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let cpu = try c.decodeIfPresent(CPUStats.self, forKey: .cpu_stats)
        let memory = try c.decodeIfPresent(MemoryStats.self, forKey: .memory_stats)
        cpuTotalNanoseconds = cpu?.cpu_usage?.total_usage ?? 0
        systemCPUNanoseconds = cpu?.system_cpu_usage ?? 0
        onlineCPUs = cpu?.online_cpus ?? 1
        // As `docker stats` shows it: usage without the page cache.
        let cache = memory?.stats?["inactive_file"] ?? memory?.stats?["total_inactive_file"] ?? 0
        let usage = memory?.usage ?? 0
        memoryUsageBytes = usage > cache ? usage - cache : usage
        memoryLimitBytes = memory?.limit ?? 0
        pids = try c.decodeIfPresent(PidsStats.self, forKey: .pids_stats)?.current ?? 0
    }
}

extension DockerClient {
    /// One reading of the container's CPU and memory use, without waiting for a second sample.
    public func containerStats(_ id: String) async throws(BerthError) -> ContainerStats {
        try await sendJSON(Request(
            method: .GET, path: "/containers/\(id)/stats", query: [("stream", "false"), ("one-shot", "true")],
            operation: "read the stats of container \(id.prefix(12))"
        ))
    }
}
