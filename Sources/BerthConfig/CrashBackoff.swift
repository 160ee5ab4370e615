import BerthCore

/// `berth.classes.<Class>.crash_backoff`: how long an object waits before it starts its
/// container again after starts that failed (the container exited before its ports
/// answered, or they never answered). The first wait is `initial`, each further failure in a
/// row doubles it, up to `max`; a start whose ports answer ends the streak.
public struct CrashBackoff: Sendable, Equatable {
    public var initial: Duration
    public var max: Duration

    public init(initial: Duration = .seconds(1), max: Duration = .seconds(60)) {
        self.initial = initial
        self.max = max
    }

    /// The wait after `failures` failed starts in a row: none for 0, `initial` for 1, then
    /// doubling, never more than `max`.
    public func delay(afterFailures failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = initial
        for _ in 1..<Swift.min(failures, 64) {
            delay = delay * 2
            if delay >= max { return max }
        }
        return Swift.min(delay, max)
    }
}

extension CrashBackoff: Codable {
    enum CodingKeys: String, CodingKey {
        case initial, max
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(DurationText.format(initial), forKey: .initial)
        try c.encode(DurationText.format(max), forKey: .max)
    }

    /// Missing keys keep their defaults: a deployment saved before the key existed still loads.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = CrashBackoff()
        initial = try c.decodeIfPresent(String.self, forKey: .initial).flatMap(DurationText.parse) ?? defaults.initial
        max = try c.decodeIfPresent(String.self, forKey: .max).flatMap(DurationText.parse) ?? defaults.max
    }
}
