import BerthCore
import Synchronization

/// Forgetting objects that hold nothing, so that memory does not grow with the number of
/// names clients send. An object may be forgotten only when it holds nothing Berth must keep
/// (no container, no request, no start, stop, hook or rollout step in progress: see
/// ``ContainerController/Presence``); a name that comes back gets a new, cold object.
///
/// - An object that never had a container and has nothing to show (its start was refused by
///   `max_instances`) is forgotten as soon as it is idle.
/// - Any other is forgotten once it has been idle for `objectIdleForget`
///   (``forgetIdleObjects()``, called periodically by the server).
/// - Beyond `maxObjects` objects, each new one makes the class forget the least recently
///   used of those that hold nothing; busy objects are never forgotten, even when that keeps
///   the class over the limit.
extension ContainerClass {
    typealias Instant = ContinuousClock.Instant

    /// Objects in memory now.
    public var objectCount: Int { objectCounter.load(ordering: .relaxed) }

    /// Starts refused so far because every `max_instances` slot was taken. They are counted
    /// here (and by `berth_max_instances_rejections_total`), not recorded one by one.
    public var refusedStartCount: Int { refusedStarts.load(ordering: .relaxed) }

    /// `controller` was used now: it moves to the front of its shard.
    func touch(_ controller: ContainerController) {
        let (id, now) = (controller.objectID, clock.now)
        shard(id).objects.withLock { objects in
            if objects[id] === controller { objects.touch(id, now: now) }
        }
    }

    /// Forgets `controller` now if it is idle.
    func forget(_ controller: ContainerController) {
        let id = controller.objectID
        let forgotten = shard(id).objects.withLock { objects in
            guard objects[id] === controller, controller.retireIfIdle() else { return false }
            objects.remove(id)
            return true
        }
        if forgotten { dropped(controller) }
    }

    /// Forgets every object that has held nothing for `objectIdleForget`; returns how many.
    @discardableResult
    public func forgetIdleObjects() -> Int {
        removeStaleParked()
        let now = clock.now
        let cutoff = now.advanced(by: .zero - settings.objectIdleForget)
        var count = 0
        for shard in shards {
            let forgotten: [ContainerController] = shard.objects.withLock { objects in
                var idle: [ContainerController] = []
                var busy: [ObjectID] = []
                objects.oldestFirst { id, controller, used in
                    guard used <= cutoff else { return false }
                    if controller.retireIfIdle() { idle.append(controller) } else { busy.append(id) }
                    return true
                }
                for controller in idle { objects.remove(controller.objectID) }
                // Busy now: looked at again only once idle for the whole period.
                for id in busy { objects.touch(id, now: now) }
                return idle
            }
            for controller in forgotten { dropped(controller) }
            count += forgotten.count
        }
        // A deployment may have lowered maxObjects.
        let before = objectCount
        forgetLeastRecentlyUsed(sparing: nil)
        return count + max(0, before - objectCount)
    }

    /// While over `maxObjects`: forgets the least recently used idle objects of the class
    /// (never `sparing`, the one just made). Stops when every other object is busy.
    func forgetLeastRecentlyUsed(sparing: ContainerController?) {
        while objectCount > settings.maxObjects, forgetOneLeastRecentlyUsed(sparing: sparing) {}
    }

    /// Forgets the least recently used idle object; false when there is none.
    private func forgetOneLeastRecentlyUsed(sparing: ContainerController?) -> Bool {
        let now = clock.now
        // A candidate can get busy between the look and the forgetting: look again then.
        for _ in 0..<4 {
            var oldest: (shard: Shard, id: ObjectID, used: Instant)?
            for shard in shards {
                shard.objects.withLock { objects in
                    var busy: [ObjectID] = []
                    objects.oldestFirst { id, controller, used in
                        if controller === sparing { return true }
                        guard controller.isIdle else {
                            busy.append(id)
                            return true
                        }
                        if oldest.map({ used < $0.used }) ?? true { oldest = (shard, id, used) }
                        return false
                    }
                    // Busy ones move to the front, so that the next look does not walk them again.
                    for id in busy { objects.touch(id, now: now) }
                }
            }
            guard let oldest else { return false }
            let forgotten: ContainerController? = oldest.shard.objects.withLock { objects in
                guard let controller = objects[oldest.id], controller.retireIfIdle() else { return nil }
                objects.remove(oldest.id)
                return controller
            }
            if let forgotten {
                dropped(forgotten)
                return true
            }
        }
        return false
    }

    /// Bookkeeping after `controller` left its shard: the count, and the entry by name.
    private func dropped(_ controller: ContainerController) {
        objectCounter.subtract(1, ordering: .relaxed)
        objectStorage?.forget(className: className, objectHex: controller.objectID.hex)
        guard let name = controller.objectID.name else { return }
        shards[Self.shard(name: name, count: shards.count)].named.withLock { named in
            if named[name] === controller { named[name] = nil }
        }
    }
}
