import BerthAPI
import BerthRuntime
import Foundation
import Synchronization

/// CPU and memory of running containers from one-shot engine readings: the CPU share comes
/// from the difference to the previous reading of the same container (the dashboard polls).
public final class StatsSampler: Sendable {
    struct Reading: Sendable {
        var cpu: UInt64
        var system: UInt64
    }

    let output: any InstanceOutput
    private let previous = Mutex<[String: Reading]>([:])

    public init(output: any InstanceOutput) {
        self.output = output
    }

    /// `(cpu percent of one core, memory bytes, memory limit)`; the first reading of a
    /// container has no CPU share yet.
    public func sample(_ containerID: String) async -> (cpu: Double?, memory: UInt64, limit: UInt64)? {
        guard let stats = try? await output.stats(containerID) else { return nil }
        let reading = Reading(cpu: stats.cpuNanoseconds, system: stats.systemCPUNanoseconds)
        let last = previous.withLock { readings in
            let last = readings[containerID]
            readings[containerID] = reading
            if readings.count > 10_000 { readings = [containerID: reading] }
            return last
        }
        var cpu: Double?
        if let last, reading.system > last.system, reading.cpu >= last.cpu {
            cpu = Double(reading.cpu - last.cpu) / Double(reading.system - last.system) * Double(stats.onlineCPUs) * 100
        }
        return (cpu, stats.memoryBytes, stats.memoryLimitBytes)
    }
}
