import BerthCore
import DockerEngine
import Foundation

/// One loop per URL, each sending its next GET when the last one is answered, until stopped
/// (at most `limit`). Keeps the status, instance and times of every answer.
final class LoadLoop: @unchecked Sendable {
    struct Sample: Sendable {
        var index: Int
        var status: UInt
        var instance: String?
        var started: Date
        var ended: Date
    }

    private let lock = NSLock()
    private var samples: [Sample] = []
    private var tasks: [Task<Void, Never>] = []

    init(suite: ChaosSuite, urls: [String], pause: Duration = .milliseconds(100), limit: Duration = .seconds(1800)) {
        let deadline = ContinuousClock.now + limit
        tasks = urls.enumerated().map { index, url in
            Task {
                while !Task.isCancelled && ContinuousClock.now < deadline {
                    let answer = await suite.get(url, timeout: .seconds(30))
                    self.lock.withLock {
                        self.samples.append(Sample(index: index, status: answer.status, instance: answer.instance, started: answer.started, ended: answer.ended))
                    }
                    try? await Task.sleep(for: pause)
                }
            }
        }
    }

    func answers(since: Date, until: Date = .distantFuture) -> [Sample] {
        lock.withLock { samples.filter { $0.started >= since && $0.ended <= until } }
    }

    /// The instance of each URL's latest 200 answer.
    func lastInstances() -> [Int: String] {
        lock.withLock {
            var last: [Int: String] = [:]
            for sample in samples where sample.status == 200 { if let instance = sample.instance { last[sample.index] = instance } }
            return last
        }
    }

    /// Waits until every URL got a 200 started after `since` (at most `timeout`); whether they all did.
    func waitAllAnswered(count: Int, since: Date, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if Set(answers(since: since).filter { $0.status == 200 }.map(\.index)).count == count { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }
}

/// The engine's own container events for some labels, as they happen, kept in order.
final class EngineEvents: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [EngineEvent] = []
    private var task: Task<Void, Never>?
    private(set) var error: String?

    /// Subscribes; returns once the engine answered the subscription.
    init(engine: DockerClient, labels: [String]) async throws {
        let stream = try await engine.events(EventFilters(labels: labels, types: ["container"]))
        task = Task {
            do {
                for try await event in stream {
                    self.lock.withLock { self.events.append(event) }
                }
            } catch {
                self.lock.withLock { self.error = "\(error)" }
            }
        }
    }

    var all: [EngineEvent] { lock.withLock { events } }

    func stop() {
        task?.cancel()
    }
}

extension EngineEvent {
    var date: Date { Date(timeIntervalSince1970: Double(timeNano) / 1e9) }
}
