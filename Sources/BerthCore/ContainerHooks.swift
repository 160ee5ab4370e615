/// Overrides for one start (`start({envVars, entrypoint, enableInternet, labels})`).
public struct StartOptions: Sendable, Codable {
    public var envVars: [String: String] = [:]
    public var entrypoint: [String]?
    public var enableInternet: Bool?
    public var labels: [String: String] = [:]
    public init(envVars: [String: String] = [:], entrypoint: [String]? = nil, enableInternet: Bool? = nil, labels: [String: String] = [:]) {
        self.envVars = envVars
        self.entrypoint = entrypoint
        self.enableInternet = enableInternet
        self.labels = labels
    }

    /// Nothing asked beyond the class's settings.
    public var isEmpty: Bool { envVars.isEmpty && entrypoint == nil && enableInternet == nil && labels.isEmpty }
}

/// The lifecycle hooks of a Container class.
public protocol ContainerHooks: Sendable {
    func onStart() async
    func onStop(exitCode: Int, reason: StopReason) async
    func onError(_ error: BerthError) async
    /// Called after `sleepAfter` of idleness; return true to stop (the default), false to keep
    /// running (the timer renews).
    func onActivityExpired() async -> Bool
}

extension ContainerHooks {
    public func onStart() async {}
    public func onStop(exitCode: Int, reason: StopReason) async {}
    public func onError(_ error: BerthError) async {}
    public func onActivityExpired() async -> Bool { true }
}

/// Hooks that do nothing but the defaults.
public struct DefaultHooks: ContainerHooks {
    public init() {}
}
