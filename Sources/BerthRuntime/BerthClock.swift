/// The time source of a class's controllers: the idle timer, activity, leases.
///
/// The system's `ContinuousClock` by default; tests inject a ``ManualTime`` that moves only
/// when told. A concrete value rather than `any Clock`, so that reading it on the warm path
/// (every request) is one branch, not an existential call.
public struct BerthClock: Sendable {
    private let manual: ManualTime?

    private init(manual: ManualTime?) {
        self.manual = manual
    }

    /// The system's continuous clock.
    public static var continuous: BerthClock { BerthClock(manual: nil) }

    /// A clock that reads and sleeps on `time`.
    static func manual(_ time: ManualTime) -> BerthClock { BerthClock(manual: time) }

    /// Now, as an instant of the continuous clock (a manual clock counts from its start).
    @inline(__always)
    var now: ContinuousClock.Instant {
        if let manual { return manual.now }
        return ContinuousClock.now
    }

    /// Sleeps until `deadline` on this clock; throws when the task is cancelled.
    func sleep(until deadline: ContinuousClock.Instant) async throws {
        if let manual {
            try await manual.sleep(until: deadline)
        } else {
            try await Task.sleep(until: deadline, clock: .continuous)
        }
    }
}
