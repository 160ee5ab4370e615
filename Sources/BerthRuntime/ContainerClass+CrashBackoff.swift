import BerthConfig
import BerthCore

/// Crash-loop backoff: the streak of failed starts of each object, kept by the class (in the
/// object's shard) so that it outlives a forgotten controller. An entry exists only while an
/// object's starts keep failing; a start whose ports answer removes it. Each shard keeps at
/// most ``crashEntriesPerShard``; beyond, the entry that may start soonest goes.
extension ContainerClass {
    static let crashEntriesPerShard = 1024

    /// The 503 a request to `id` gets now because its last starts failed; nil when it may start.
    func crashRefusal(_ id: ObjectID, now: Instant) -> BerthError? {
        shard(id).crashes.withLock { $0[id]?.refusal(at: now) }
    }

    /// A start of `id` failed at `now`; returns the streak it extends.
    @discardableResult
    func recordFailedStart(_ id: ObjectID, now: Instant, exitCode: Int?, reason: String) -> CrashStreak {
        let backoff = settings.crashBackoff
        return shard(id).crashes.withLock { crashes in
            var streak = crashes[id] ?? CrashStreak(now: now)
            streak.failed(at: now, exitCode: exitCode, reason: reason, backoff: backoff)
            crashes[id] = streak
            if crashes.count > Self.crashEntriesPerShard, let soonest = crashes.min(by: { $0.value.nextStart < $1.value.nextStart })?.key {
                crashes[soonest] = nil
            }
            return streak
        }
    }

    /// A start of `id` succeeded: its streak ends.
    func clearFailedStarts(_ id: ObjectID) {
        shard(id).crashes.withLock { _ = $0.removeValue(forKey: id) }
    }

    /// Failed starts in a row of `id` and the last exit code, if its starts are failing.
    public func failedStarts(_ id: ObjectID) -> (count: Int, lastExitCode: Int?)? {
        shard(id).crashes.withLock { $0[id].map { ($0.failures, $0.lastExitCode) } }
    }
}
