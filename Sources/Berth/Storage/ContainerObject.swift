import BerthCore
import Foundation

/// One object's value of its ``Container`` class with the context it was made with: the
/// hooks the platform runs. Its alarm runs the object's due schedules, then the class's
/// `alarm(_:)` when the time the object set has come.
package struct ContainerObject: ContainerHooks {
    package let value: any Container
    package let context: ContainerContext

    /// The value of `type` for the object `link` reaches.
    package static func make(_ type: any Container.Type, className: String, link: any ObjectLink) -> ContainerObject {
        let context = ContainerContext(className: className, link: link)
        return ContainerObject(value: type.init(context: context), context: context)
    }

    package func onStart() async { await value.onStart() }
    package func onStop(exitCode: Int, reason: StopReason) async { await value.onStop(exitCode: exitCode, reason: reason) }
    package func onError(_ error: BerthError) async { await value.onError(error) }
    package func onActivityExpired() async -> Bool { await value.onActivityExpired() }

    /// Runs every schedule due (in order) and the object's own alarm if due. A callback that
    /// throws keeps its schedule for the retry (the others are done and gone); on the last
    /// attempt it is dropped. The error thrown is the first one.
    package func onAlarm(_ info: AlarmInfo) async throws {
        let link = context.link
        let schedules = ObjectSchedules(link: link)
        let alarm = ObjectAlarm(link: link)
        let now = Date()
        var failure: (any Error)?
        for schedule in try schedules.due(by: now) {
            do {
                guard try await Self.run(value, schedule) else {
                    context.log("schedule \(schedule.id): the class has no callback named \(schedule.callback); dropped")
                    try schedules.remove(schedule.id)
                    continue
                }
                try schedules.remove(schedule.id)
            } catch {
                context.log("schedule \(schedule.id) (\(schedule.callback)) threw: \(error)\(info.isLastAttempt ? "; given up after \(info.retryCount) retries" : "; it runs again with the alarm's retry")")
                if info.isLastAttempt { try schedules.remove(schedule.id) }
                failure = failure ?? error
            }
        }
        if let due = try alarm.userAlarm(), due <= now {
            do {
                try await value.alarm(info)
                // The alarm may have set itself again while it ran.
                if let current = try alarm.userAlarm(), current == due { try await alarm.setUserAlarm(nil) }
            } catch {
                context.log("alarm threw: \(error)\(info.isLastAttempt ? "; given up after \(info.retryCount) retries" : "; retried with backoff")")
                if info.isLastAttempt, let current = try alarm.userAlarm(), current == due { try await alarm.setUserAlarm(nil) }
                failure = failure ?? error
            }
        }
        try await alarm.sync()
        if let failure { throw failure }
    }

    /// Runs `schedule`'s callback on `value`; false when its class has none of that name.
    private static func run<C: Container>(_ value: C, _ schedule: Schedule) async throws -> Bool {
        guard let callback = C.callbacks[schedule.callback] else { return false }
        try await callback(value, schedule)
        return true
    }

    /// The names of `type`'s schedule callbacks.
    package static func callbackNames(_ type: any Container.Type) -> Set<String> {
        names(type)
    }

    private static func names<C: Container>(_ type: C.Type) -> Set<String> {
        Set(C.callbacks.keys)
    }
}
