/// For harnesses that drive the gateway's warm path with no engine (the fuzz targets): the
/// warm gate opened by hand, as a healthy container opens it.
extension ContainerController {
    /// Opens the warm gate onto `endpoint` as if a healthy container published `port` there;
    /// no container starts and the engine is never called.
    package nonisolated func openWarmGate(port: Int, endpoint: Endpoint) {
        gate.open(.init(generation: 1, instanceID: "harness", endpoints: [port: endpoint], defaultPort: port))
    }

    /// Warm-path leases taken and not yet released.
    package nonisolated var warmLeasesOut: Int { gate.activity.inFlight }
}
