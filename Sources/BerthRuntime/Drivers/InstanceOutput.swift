import BerthCore
import Foundation

/// One line a container wrote, without its line break.
public struct InstanceLogLine: Sendable, Equatable {
    /// `stdout` or `stderr`.
    public var stream: String
    public var text: String

    public init(stream: String, text: String) {
        self.stream = stream
        self.text = text
    }
}

/// One reading of a container's resource use.
public struct InstanceStats: Sendable, Equatable {
    /// CPU time the container used so far, in nanoseconds.
    public var cpuNanoseconds: UInt64
    /// The host's CPU time so far, in nanoseconds (to turn differences into a share).
    public var systemCPUNanoseconds: UInt64
    public var onlineCPUs: Int
    public var memoryBytes: UInt64
    public var memoryLimitBytes: UInt64

    public init(cpuNanoseconds: UInt64, systemCPUNanoseconds: UInt64, onlineCPUs: Int, memoryBytes: UInt64, memoryLimitBytes: UInt64) {
        self.cpuNanoseconds = cpuNanoseconds
        self.systemCPUNanoseconds = systemCPUNanoseconds
        self.onlineCPUs = onlineCPUs
        self.memoryBytes = memoryBytes
        self.memoryLimitBytes = memoryLimitBytes
    }
}

/// What running containers write and use: their output and their CPU and memory.
public protocol InstanceOutput: Sendable {
    /// A container's output line by line, from `since` (default: all it kept); with
    /// `follow`, new lines as they are written until the container stops or the consumer
    /// stops reading.
    func logLines(_ containerID: String, follow: Bool, since: Date?) async throws(BerthError) -> AsyncThrowingStream<InstanceLogLine, any Error>
    /// One reading of the container's CPU and memory use.
    func stats(_ containerID: String) async throws(BerthError) -> InstanceStats
}

/// Everything the platform asks of an engine: containers, images, their output. The Docker
/// driver now, a cluster driver later, an in-memory one in tests.
public protocol EngineDriver: ContainerRuntime, ImageStore, InstanceOutput {
    /// Whether the engine answers; throws `engineUnavailable` with what to do when it does not.
    func ping() async throws(BerthError)
}
