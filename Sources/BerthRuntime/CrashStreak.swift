import BerthConfig
import BerthCore
import Foundation

/// The stopped container of an object's last failed start, kept so that the next attempt
/// starts it again in place (one engine call) instead of creating a new one (a create, a
/// start and, later, a remove): see ``ContainerClass/park(_:now:_:)``.
struct ParkedContainer: Sendable, Equatable {
    let containerID: String
    /// The instance it is: the next attempt is the same instance, started again.
    let instanceID: String
    let deploymentID: String
    let fingerprint: String
    let created: Date
}

/// Starts of one object that failed in a row, and when it may start again: a pure value on
/// an injected clock. Its class keeps it, not its controller, so that forgetting an idle
/// object does not reset the wait (see ``ContainerClass/crashRefusal(_:now:)``).
struct CrashStreak: Sendable, Equatable {
    typealias Instant = ContinuousClock.Instant

    /// Failed starts in a row.
    private(set) var failures = 0
    /// The exit code of the last failed start, when its container exited.
    private(set) var lastExitCode: Int?
    /// What went wrong the last time, as a person reads it.
    private(set) var lastFailure = ""
    /// No start before this.
    private(set) var nextStart: Instant
    /// The container of the last failed start, stopped, when the class keeps it.
    var parked: ParkedContainer?

    init(now: Instant) {
        nextStart = now
    }

    /// A start failed at `now`: the wait doubles (from `backoff.initial`, at most `backoff.max`).
    mutating func failed(at now: Instant, exitCode: Int?, reason: String, backoff: CrashBackoff) {
        failures += 1
        lastExitCode = exitCode
        lastFailure = exitCode.map { "the container exited with code \($0)" } ?? reason
        nextStart = now.advanced(by: backoff.delay(afterFailures: failures))
    }

    /// How long a start must still wait at `now`; nil when it may go.
    func wait(at now: Instant) -> Duration? {
        now < nextStart ? now.duration(to: nextStart) : nil
    }

    /// Whole seconds until the next start (at least 1): what `Retry-After` says.
    static func seconds(_ wait: Duration) -> Int {
        let (seconds, attoseconds) = wait.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    /// The 503 a request gets at `now`, while the start must wait; nil when it may go.
    func refusal(at now: Instant) -> BerthError? {
        guard let wait = wait(at: now) else { return nil }
        let seconds = Self.seconds(wait)
        let times = failures == 1 ? "once" : "\(failures) times in a row"
        var error = BerthError(.unavailable, "The container is not started again yet: \(lastFailure) \(times); next start in \(seconds)s.")
        error.retryAfterSeconds = seconds
        return error
    }
}
