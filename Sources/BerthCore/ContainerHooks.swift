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
    /// The object's alarm fired (its schedules' and its own): thrown errors are retried with
    /// exponential backoff, at most ``AlarmInfo/maxRetries`` times.
    func onAlarm(_ info: AlarmInfo) async throws
}

/// What an alarm's run knows of itself: Cloudflare's `alarm({retryCount, isRetry})`.
public struct AlarmInfo: Sendable, Equatable, Codable {
    /// Retries after a thrown error, at most (as Cloudflare's).
    public static let maxRetries = 6
    /// 0 on the first run, then 1, 2, … on each retry.
    public var retryCount: Int
    public var isRetry: Bool { retryCount > 0 }
    /// This run is the last: when it throws too, the alarm is given up.
    public var isLastAttempt: Bool { retryCount >= Self.maxRetries }

    public init(retryCount: Int = 0) {
        self.retryCount = retryCount
    }
}

extension ContainerHooks {
    public func onStart() async {}
    public func onStop(exitCode: Int, reason: StopReason) async {}
    public func onError(_ error: BerthError) async {}
    public func onActivityExpired() async -> Bool { true }
    public func onAlarm(_ info: AlarmInfo) async throws {}
}

/// Hooks that do nothing but the defaults.
public struct DefaultHooks: ContainerHooks {
    public init() {}
}
