import Synchronization

/// Whether the object holds anything Berth must keep, so that its class may forget it (see
/// ``ContainerClass/forgetIdleObjects()``), and what a forgotten controller does with calls.
///
/// The actor publishes what it holds in ``Presence`` (one small lock of its own), and every
/// call into it begins with ``enter()``: the class forgets an object only under that lock,
/// when it holds nothing and no call is in progress, and marks it retired there. A call that
/// finds it retired goes to the object's current controller instead, so a stub kept from
/// before is never stale and no id ever has two controllers that hold something.
extension ContainerController {
    struct Presence {
        /// A container (starting, running or stopping), waiting requests or stop callers,
        /// hooks not yet run, or a start being given up on.
        var holds = false
        /// Calls in progress: a request being admitted, a start, a stop, a rollout step.
        var calls = 0
        /// Forgotten by its class.
        var retired = false

        var isIdle: Bool { !holds && calls == 0 && !retired }
    }

    /// Whether the class forgot this controller.
    nonisolated var isRetired: Bool { retiredFlag.load(ordering: .acquiring) }

    /// Holds nothing and no call is in progress: the class may forget it.
    nonisolated var isIdle: Bool { presence.withLock { $0.isIdle } }

    /// Begins a call. False when the class forgot this controller: the caller forwards.
    nonisolated func enter() -> Bool {
        let entered = presence.withLock { presence in
            guard !presence.retired else { return false }
            presence.calls += 1
            return true
        }
        if entered { owner.touch(self) }
        return entered
    }

    /// Ends a call begun with ``enter()``.
    func leave() {
        presence.withLock { $0.calls -= 1 }
        settle()
    }

    /// Marks this controller retired if it is idle; the class then drops it. Called by the
    /// class only, under the lock of the shard that holds it.
    nonisolated func retireIfIdle() -> Bool {
        presence.withLock { presence in
            guard presence.isIdle else { return false }
            presence.retired = true
            retiredFlag.store(true, ordering: .releasing)
            return true
        }
    }

    /// The object's controller now, made if none is: where the calls of a retired one go.
    nonisolated func successor() -> ContainerController {
        owner.get(objectID)
    }

    /// The object's controller now, if there is one (a retired controller held nothing, so
    /// without one there is nothing to stop or read).
    nonisolated func existingSuccessor() -> ContainerController? {
        owner.existing(objectID)
    }

    /// What this object holds that Berth must keep.
    var holdsSomething: Bool {
        guard case .stopped = machine.phase else { return true }
        return !waiters.isEmpty || !stopWaiters.isEmpty || !hookEvents.isEmpty || hookDrainer != nil || discarding > 0
    }

    /// Nothing that a new controller of this id would not have: it never had a container,
    /// no failure to show and no exit code. Such an object (a start refused by
    /// `max_instances`) is forgotten as soon as it is idle, not after `objectIdleForget`.
    var remembersNothing: Bool {
        machine.phase == .stopped(exitCode: nil) && failure == nil && !hadContainer
    }

    /// Publishes what the object holds now; an object that just went idle counts as used now,
    /// and one that remembers nothing is forgotten at once.
    func settle() {
        let holds = holdsSomething
        let (idle, wentIdle) = presence.withLock { presence in
            let wasIdle = presence.isIdle
            presence.holds = holds
            return (presence.isIdle, presence.isIdle && !wasIdle)
        }
        guard idle else { return }
        if remembersNothing {
            owner.forget(self)
        } else if wentIdle {
            owner.touch(self)
        }
    }
}
