import BerthCore
import BerthRuntime

/// The engine of a class whose warm gate is opened by hand (the warm-path harnesses and
/// the gateway's fuzz target): the warm path never calls it, and every call fails.
public struct NoEngine: ContainerRuntime {
    static let unused = BerthError(.internal, "the warm path must not call the engine")
    /// Whether its endpoints are trusted: a test distrusts it as the Docker driver's exit
    /// watcher does after a lost events stream.
    public let sight: EngineSight
    public init(sight: EngineSight = .always) { self.sight = sight }
    public func startInstance(_ spec: InstanceSpec) async throws(BerthError) -> RunningInstance { throw Self.unused }
    public func stopInstance(_ containerID: String, signal: String, grace: Duration) async throws(BerthError) { throw Self.unused }
    public func killInstance(_ containerID: String) async throws(BerthError) { throw Self.unused }
    public func removeInstance(_ containerID: String) async {}
    public func waitForExit(_ containerID: String) async throws(BerthError) -> Int { throw Self.unused }
    public func listInstances(labels: [String]) async throws(BerthError) -> [InstanceSummary] { throw Self.unused }
    public func runningInstance(_ containerID: String) async throws(BerthError) -> RunningInstance { throw Self.unused }
}
