import BerthCore
import BerthStorage
import Foundation
import Logging

/// Every object's alarm on one server: when each fires, kept in `.berth/objects/alarms.sqlite`
/// so that an alarm due while Berth was down fires once it is back.
///
/// - An alarm fires once per time set; while it runs, the object's alarm does not fire again.
/// - A run that throws is retried after 2 s, 4 s, 8 s … (`retryBase` doubling), at most
///   ``AlarmInfo/maxRetries`` times, then given up, unless the run set the alarm again.
/// - A class that cannot run its alarm now (not deployed yet, its Worker process down) is
///   asked again shortly, without using up a retry.
public actor AlarmScheduler {
    public struct Key: Hashable, Sendable, Comparable {
        public let className: String
        public let objectHex: String

        public init(className: String, objectHex: String) {
            self.className = className
            self.objectHex = objectHex
        }

        public static func < (a: Key, b: Key) -> Bool { (a.className, a.objectHex) < (b.className, b.objectHex) }
    }

    /// One alarm as the scheduler keeps it.
    public struct Pending: Sendable, Equatable {
        public let key: Key
        public var due: Date
        public var retries: Int
        /// The name the object's id was derived from, when known (the object wakes with it).
        public var name: String?
        /// Bumped by every set, so that a run can tell whether it set the alarm again.
        var generation: Int
    }

    /// What running an alarm came to.
    public enum Outcome: Sendable, Equatable {
        case done
        case failed(String)
        /// Nothing can run it now (its class is not deployed, its Worker is down).
        case unavailable(String)
    }

    /// Runs the alarm of the object `key` (named `name`, when known).
    public typealias Fire = @Sendable (_ key: Key, _ name: String?, AlarmInfo) async -> Outcome

    let path: String
    let retryBase: Duration
    /// How soon an alarm that could not run is asked again.
    let unavailableDelay: Duration
    let logger: Logger
    private var database: SQLiteDatabase?
    private var alarms: [Key: Pending] = [:]
    /// Alarms running now, with the generation they started at.
    private var running: [Key: Int] = [:]
    private var fire: Fire?
    private var timer: Task<Void, Never>?
    private var nextGeneration = 1
    /// Alarms that could not run, asked again shortly (or at once by ``wake()``).
    private var waiting: Set<Key> = []
    /// Fired runs so far (tests wait on it).
    public private(set) var runs = 0

    /// `folder`: the objects folder (`.berth/objects`).
    public init(folder: String, retryBase: Duration = .seconds(2), unavailableDelay: Duration = .seconds(1), logger: Logger = Logger(label: "berth.alarms")) {
        self.path = (folder as NSString).appendingPathComponent("alarms.sqlite")
        self.retryBase = retryBase
        self.unavailableDelay = unavailableDelay
        self.logger = logger
    }

    /// Loads the alarms kept and starts firing them through `fire`.
    public func start(_ fire: @escaping Fire) throws(BerthError) {
        self.fire = fire
        if FileManager.default.fileExists(atPath: path) {
            let rows = try open().run("SELECT class, object, due, retries, name FROM alarms").rows
            for row in rows {
                guard let className = row[0].text, let hex = row[1].text, let due = row[2].real else { continue }
                let key = Key(className: className, objectHex: hex)
                alarms[key] = Pending(key: key, due: Date(timeIntervalSince1970: due), retries: Int(row[3].integer ?? 0), name: row[4].text, generation: generation())
            }
            if !rows.isEmpty { logger.info("\(rows.count) alarms restored") }
        }
        arm()
    }

    /// Stops firing (alarms stay kept).
    public func stop() {
        timer?.cancel()
        timer = nil
        fire = nil
        database?.close()
        database = nil
    }

    public func get(_ key: Key) -> Date? { alarms[key]?.due }

    /// Every alarm set, soonest first.
    public var pending: [Pending] { alarms.values.sorted { ($0.due, $0.key) < ($1.due, $1.key) } }

    public func set(_ key: Key, at due: Date, name: String? = nil) throws(BerthError) {
        alarms[key] = Pending(key: key, due: due, retries: 0, name: name, generation: generation())
        try save(alarms[key]!)
        arm()
    }

    public func delete(_ key: Key) throws(BerthError) {
        guard alarms.removeValue(forKey: key) != nil else { return }
        try remove(key)
        arm()
    }

    /// Removes every alarm of `className` (its storage is purged); returns how many.
    @discardableResult
    public func purge(className: String) throws(BerthError) -> Int {
        let keys = alarms.keys.filter { $0.className == className }
        for key in keys { alarms[key] = nil }
        if FileManager.default.fileExists(atPath: path) {
            _ = try open().run("DELETE FROM alarms WHERE class = ?", [.text(className)])
        }
        arm()
        return keys.count
    }

    /// Looks again at once (a deployment made classes available).
    public func wake() {
        let now = Date()
        for key in waiting { alarms[key]?.due = now }
        waiting = []
        arm()
    }

    // MARK: - Firing

    private func generation() -> Int {
        defer { nextGeneration += 1 }
        return nextGeneration
    }

    /// Sleeps until the soonest alarm not running is due, then fires those due.
    private func arm() {
        timer?.cancel()
        guard fire != nil, let soonest = alarms.values.filter({ running[$0.key] == nil }).map(\.due).min() else {
            timer = nil
            return
        }
        let delay = max(0, soonest.timeIntervalSinceNow)
        timer = Task { [weak self] in
            if delay > 0 { try? await Task.sleep(for: .milliseconds(Int64((delay * 1000).rounded(.up)))) }
            guard !Task.isCancelled else { return }
            await self?.fireDue()
        }
    }

    private func fireDue() {
        guard let fire else { return }
        let now = Date()
        for alarm in alarms.values where alarm.due <= now && running[alarm.key] == nil {
            running[alarm.key] = alarm.generation
            let info = AlarmInfo(retryCount: alarm.retries)
            let (key, name) = (alarm.key, alarm.name)
            runs += 1
            Task { [weak self] in
                let outcome = await fire(key, name, info)
                await self?.finished(key, info: info, outcome: outcome)
            }
        }
        arm()
    }

    private func finished(_ key: Key, info: AlarmInfo, outcome: Outcome) {
        guard let started = running.removeValue(forKey: key) else { return }
        waiting.remove(key)
        defer { arm() }
        guard var alarm = alarms[key] else { return }
        let setAgain = alarm.generation != started
        switch outcome {
        case .done:
            if !setAgain { drop(key) }
        case .unavailable(let reason):
            if setAgain { return }
            logger.debug("alarm of \(key.className) \(key.objectHex) cannot run now (\(reason)); asked again in \(unavailableDelay)")
            alarm.due = Date().addingTimeInterval(Self.seconds(unavailableDelay))
            alarms[key] = alarm
            waiting.insert(key)
        case .failed(let message):
            if info.isLastAttempt {
                logger.warning("alarm of \(key.className) \(key.objectHex) failed after \(info.retryCount) retries, given up: \(message)")
                if !setAgain { drop(key) }
                return
            }
            let backoff = retryBase * (1 << min(info.retryCount, 20))
            logger.info("alarm of \(key.className) \(key.objectHex) threw (\(message)); retry \(info.retryCount + 1) in \(backoff)")
            alarm.due = Date().addingTimeInterval(Self.seconds(backoff))
            alarm.retries = info.retryCount + 1
            alarms[key] = alarm
            do { try save(alarm) } catch { logger.error("alarm of \(key.className) \(key.objectHex): \(error.message)") }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func drop(_ key: Key) {
        alarms[key] = nil
        do { try remove(key) } catch { logger.error("alarm of \(key.className) \(key.objectHex): \(error.message)") }
    }

    // MARK: - Keeping

    private func open() throws(BerthError) -> SQLiteDatabase {
        if let database { return database }
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let opened = try SQLiteDatabase(path: path, create: true)
        _ = try opened.run("CREATE TABLE IF NOT EXISTS alarms (class TEXT NOT NULL, object TEXT NOT NULL, due REAL NOT NULL, retries INTEGER NOT NULL DEFAULT 0, name TEXT, PRIMARY KEY (class, object)) WITHOUT ROWID")
        database = opened
        return opened
    }

    private func save(_ alarm: Pending) throws(BerthError) {
        _ = try open().run(
            "INSERT INTO alarms (class, object, due, retries, name) VALUES (?, ?, ?, ?, ?) ON CONFLICT(class, object) DO UPDATE SET due = excluded.due, retries = excluded.retries, name = excluded.name",
            [.text(alarm.key.className), .text(alarm.key.objectHex), .real(alarm.due.timeIntervalSince1970), .integer(Int64(alarm.retries)), alarm.name.map { .text($0) } ?? .null]
        )
    }

    private func remove(_ key: Key) throws(BerthError) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        _ = try open().run("DELETE FROM alarms WHERE class = ? AND object = ?", [.text(key.className), .text(key.objectHex)])
    }
}
