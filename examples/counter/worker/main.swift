// The counter: each name is a Durable Object whose own storage (SQLite) keeps its count, and
// which can schedule a callback that starts its container later — even across restarts.
import BerthWorker
import Foundation

/// The container class. Its storage outlives its containers: a count stays when the
/// container stops, is destroyed, or Berth restarts.
struct Counter: Container {
    static let defaultPort: Int? = 8080
    static let sleepAfter: Duration = .seconds(30)
    /// What `schedule` may call, by name.
    static let callbacks: [String: ScheduleCallback<Counter>] = [
        "wake": { counter, schedule in try await counter.wake(schedule) },
    ]
    let context: ContainerContext
    init(context: ContainerContext) { self.context = context }

    /// A scheduled wake-up: the object starts its container and writes down when. Thrown
    /// errors are retried (2 s, 4 s, …), so a container that cannot start yet is tried again.
    func wake(_ schedule: Schedule) async throws {
        try await context.container.startAndWaitForPorts()
        try context.storage.put("ran_at", Date().timeIntervalSince1970)
        context.log("wake-up \(schedule.id) ran: the container is \(await context.container.getState())")
    }
}

struct CounterWorker: Worker {
    func fetch(_ request: Request, env: Env) async throws -> Response {
        let parts = request.pathname.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts[0] == "counter" else {
            return .text("Call /counter/<name> to count, /counter/<name>/in/<seconds> to schedule a wake-up, /counter/<name>/ran to see when it ran.\n")
        }
        let counter = env["COUNTER"].getByName(parts[1])
        switch parts.dropFirst(2).first {
        case nil:
            // One transaction: read, add one, write; the answer is what was stored.
            let count = try counter.storage.transaction { txn in
                let next = (try txn.get("count", as: Int.self) ?? 0) + 1
                try txn.put("count", next)
                return next
            }
            return .text("\(count)\n")
        case "in":
            guard parts.count == 4, let seconds = Double(parts[3]), seconds >= 0, seconds <= 86_400 else {
                return .text("/counter/<name>/in/<seconds>: seconds from 0 to 86400\n", status: .badRequest)
            }
            let wake = try await counter.schedule(after: .milliseconds(Int64(seconds * 1000)), "wake")
            return .text("scheduled \(wake.id) at \(wake.time.timeIntervalSince1970)\n")
        case "ran":
            guard let at = try counter.storage.get("ran_at", as: Double.self) else { return .text("not yet\n") }
            return .text("ran at \(at)\n")
        default:
            return .text("unknown: \(request.pathname)\n", status: .notFound)
        }
    }
}

try await WorkerProcess.run(CounterWorker(), containers: [Counter.self])
