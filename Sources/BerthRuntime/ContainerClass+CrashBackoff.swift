import BerthConfig
import BerthCore

/// Crash-loop backoff: the streak of failed starts of each object, kept by the class (in the
/// object's shard) so that it outlives a forgotten controller. An entry exists only while an
/// object's starts keep failing; a start whose ports answer removes it. Each shard keeps at
/// most ``crashEntriesPerShard``; beyond, the entry that may start soonest goes.
///
/// The container of a start that exited is *parked* in its streak (up to ``parkingLimit``
/// per class): the next attempt starts that same container again, so a crash loop costs
/// the engine one call per attempt, and its logs keep every attempt. A parked container is
/// removed when a start creates a new one instead (another deployment), when its streak
/// goes, when nobody has come back for it a whole `crash_backoff.max` after it could have
/// started (``removeStaleParked()``), and when the class stops (``stopAll()``).
extension ContainerClass {
    static let crashEntriesPerShard = 1024
    /// Stopped containers a class keeps for crash loops at most: its `max_instances`,
    /// within 1...64. Beyond, a failed start's container is removed as before.
    var parkingLimit: Int { Swift.min(64, Swift.max(1, budget.limit)) }

    /// The 503 a request to `id` gets now because its last starts failed; nil when it may start.
    func crashRefusal(_ id: ObjectID, now: Instant) -> BerthError? {
        shard(id).crashes.withLock { $0[id]?.refusal(at: now) }
    }

    /// A start of `id` failed at `now`; returns the streak it extends.
    @discardableResult
    func recordFailedStart(_ id: ObjectID, now: Instant, exitCode: Int?, reason: String) -> CrashStreak {
        let backoff = settings.crashBackoff
        let (streak, evicted) = shard(id).crashes.withLock { crashes -> (CrashStreak, ParkedContainer?) in
            var streak = crashes[id] ?? CrashStreak(now: now)
            streak.failed(at: now, exitCode: exitCode, reason: reason, backoff: backoff)
            crashes[id] = streak
            var evicted: ParkedContainer?
            if crashes.count > Self.crashEntriesPerShard, let soonest = crashes.min(by: { $0.value.nextStart < $1.value.nextStart })?.key {
                evicted = crashes.removeValue(forKey: soonest)?.parked
            }
            return (streak, evicted)
        }
        unpark([evicted].compactMap { $0 })
        return streak
    }

    /// A start of `id` succeeded: its streak ends.
    func clearFailedStarts(_ id: ObjectID) {
        let parked = shard(id).crashes.withLock { $0.removeValue(forKey: id)?.parked }
        unpark([parked].compactMap { $0 })
    }

    /// Keeps `container`, stopped, for the next start of `id` (whose failure is recorded
    /// next); false when the class keeps as many as it may: then the caller removes it.
    func park(_ id: ObjectID, now: Instant, _ container: ParkedContainer) -> Bool {
        let (parked, replaced) = shard(id).crashes.withLock { crashes -> (Bool, ParkedContainer?) in
            var streak = crashes[id] ?? CrashStreak(now: now)
            let replaced = streak.parked
            // A replaced container frees the place the new one takes.
            if replaced == nil, parkedCount.add(1, ordering: .relaxed).newValue > parkingLimit {
                parkedCount.subtract(1, ordering: .relaxed)
                return (false, nil)
            }
            streak.parked = container
            crashes[id] = streak
            return (true, replaced?.containerID == container.containerID ? nil : replaced)
        }
        if let replaced { remove([replaced]) }
        return parked
    }

    /// The container parked for `id`, left in place.
    func parked(_ id: ObjectID) -> ParkedContainer? {
        shard(id).crashes.withLock { $0[id]?.parked }
    }

    /// The container parked for `id`, which the caller now owns (to start or remove).
    func takeParked(_ id: ObjectID) -> ParkedContainer? {
        let parked = shard(id).crashes.withLock { crashes -> ParkedContainer? in
            defer { crashes[id]?.parked = nil }
            return crashes[id]?.parked
        }
        if parked != nil { parkedCount.subtract(1, ordering: .relaxed) }
        return parked
    }

    /// Whether `containerID` is the container parked for `id` (reconciliation leaves it).
    public func parks(_ id: ObjectID, containerID: String) -> Bool {
        parked(id)?.containerID == containerID
    }

    /// Stopped containers parked now.
    public var parkedContainerCount: Int { parkedCount.load(ordering: .relaxed) }

    /// Removes the parked containers nobody came back for: a whole `crash_backoff.max`
    /// after their object could have started again. Their streaks stay. Returns how many.
    @discardableResult
    public func removeStaleParked() -> Int {
        let cutoff = clock.now.advanced(by: .zero - settings.crashBackoff.max)
        let taken = takeParked { $0.wait(at: cutoff) == nil }
        unpark(taken)
        return taken.count
    }

    /// Takes every parked container out of the streaks, for the caller to remove.
    func takeAllParked() -> [ParkedContainer] {
        let taken = takeParked { _ in true }
        parkedCount.subtract(taken.count, ordering: .relaxed)
        return taken
    }

    private func takeParked(where stale: (CrashStreak) -> Bool) -> [ParkedContainer] {
        var taken: [ParkedContainer] = []
        for shard in shards {
            shard.crashes.withLock { crashes in
                for (id, streak) in crashes where stale(streak) {
                    guard let parked = streak.parked else { continue }
                    taken.append(parked)
                    crashes[id]?.parked = nil
                }
            }
        }
        return taken
    }

    /// Removes containers taken out of the streaks.
    private func unpark(_ containers: [ParkedContainer]) {
        guard !containers.isEmpty else { return }
        parkedCount.subtract(containers.count, ordering: .relaxed)
        remove(containers)
    }

    private func remove(_ containers: [ParkedContainer]) {
        guard !containers.isEmpty else { return }
        let runtime = self.runtime
        Task {
            for container in containers { await runtime.removeInstance(container.containerID) }
        }
    }

    /// Failed starts in a row of `id` and the last exit code, if its starts are failing.
    public func failedStarts(_ id: ObjectID) -> (count: Int, lastExitCode: Int?)? {
        shard(id).crashes.withLock { $0[id].map { ($0.failures, $0.lastExitCode) } }
    }
}
