import BerthCore

/// Crash-loop backoff as the controller applies it: a start that failed for a reason of the
/// container's (it exited, or its ports never answered) makes the
/// next start wait (``CrashStreak``, kept by the class); meanwhile requests get 503 with
/// `Retry-After` instead of a new start. A start whose ports answer ends the streak.
extension ContainerController {
    /// The 503 for a request that would start the container while its starts back off.
    func backoffRefusal() -> BerthError? {
        guard case .stopped = machine.phase else { return nil }
        return owner.crashRefusal(objectID, now: clock.now)
    }

    /// Records a failed start; returns what to tell the waiters ("2 failed starts in a row;
    /// next start in 2s") and the seconds until the next start (their `Retry-After`).
    func noteFailedStart(exitCode: Int?, reason: String) -> (text: String, seconds: Int) {
        let now = clock.now
        let streak = owner.recordFailedStart(objectID, now: now, exitCode: exitCode, reason: reason)
        let seconds = streak.wait(at: now).map(CrashStreak.seconds) ?? 0
        logger.warning("start failed; the next one waits", metadata: [
            "failures": "\(streak.failures)", "exit_code": "\(exitCode.map(String.init) ?? "-")", "next_start_s": "\(seconds)",
        ])
        let count = streak.failures == 1 ? "1 failed start" : "\(streak.failures) failed starts in a row"
        return ("\(count); next start in \(seconds)s", seconds)
    }

    /// Whether a failed start counts toward the backoff: once the container exists, any
    /// failure is the container's; before, only a container that exited as soon as it
    /// started (not an engine error such as a full disk, a slow or unreachable engine, a full
    /// `max_instances` or a disabled class).
    static func isContainerFailure(_ error: BerthError, created: Bool) -> Bool {
        if created { return error.code != .capacityExceeded && error.code != .unavailable }
        return error.cause is InstanceExited
    }
}
