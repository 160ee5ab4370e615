import BerthAPI
import Foundation
import Synchronization

/// The last hour of one container class's activity, in 10-second buckets, for the
/// dashboard's charts: requests, 5xx answers, latency percentiles, cold starts and running
/// instances. Recording is a few integer updates under the class's own lock.
public final class ActivityHistory: Sendable {
    public static let bucketSeconds = 10
    public static let bucketCount = 360
    /// Upper bounds of the latency buckets in milliseconds: 0.25 ms doubling to ~4.5 min.
    static let latencyBounds: [Double] = (0..<21).map { 0.25 * pow(2, Double($0)) }

    struct Bucket {
        var slot = -1
        var requests = 0
        var serverErrors = 0
        var coldStarts = 0
        var coldStartMs = 0.0
        var running: Int?
        var latency = [Int](repeating: 0, count: ActivityHistory.latencyBounds.count + 1)
    }

    /// One point of a chart.
    public struct Point: Sendable, Codable, Equatable {
        /// The bucket's start.
        public var time: Date
        public var requestsPerSecond: Double
        public var p50Ms: Double?
        public var p99Ms: Double?
        public var serverErrors: Int
        public var coldStarts: Int
        public var coldStartMs: Double?
        public var running: Int?

        enum CodingKeys: String, CodingKey {
            case time, running
            case requestsPerSecond = "rps", p50Ms = "p50_ms", p99Ms = "p99_ms", serverErrors = "errors_5xx"
            case coldStarts = "cold_starts", coldStartMs = "cold_start_ms"
        }
    }

    private let buckets = Mutex([Bucket](repeating: Bucket(), count: ActivityHistory.bucketCount))

    public init() {}

    static func slot(_ date: Date) -> Int { Int(date.timeIntervalSince1970) / bucketSeconds }

    private func update(_ date: Date, _ body: (inout Bucket) -> Void) {
        let slot = Self.slot(date)
        buckets.withLock { buckets in
            let index = slot % Self.bucketCount
            if buckets[index].slot != slot { buckets[index] = Bucket(slot: slot) }
            body(&buckets[index])
        }
    }

    public func request(status: Int, duration: Duration, at date: Date = Date()) {
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        let index = Self.latencyBounds.firstIndex { ms <= $0 } ?? Self.latencyBounds.count
        update(date) { bucket in
            bucket.requests += 1
            if status >= 500 { bucket.serverErrors += 1 }
            bucket.latency[index] += 1
        }
    }

    public func coldStart(_ duration: Duration, at date: Date = Date()) {
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        update(date) { bucket in
            bucket.coldStarts += 1
            bucket.coldStartMs += ms
        }
    }

    /// The number of running instances now.
    public func running(_ count: Int, at date: Date = Date()) {
        update(date) { $0.running = count }
    }

    /// The last `minutes` minutes, oldest first, a point per bucket (empty ones included).
    public func points(minutes: Int = 60, now: Date = Date()) -> [Point] {
        let last = Self.slot(now)
        let count = min(Self.bucketCount, max(1, minutes * 60 / Self.bucketSeconds))
        let snapshot = buckets.withLock { $0 }
        return ((last - count + 1)...last).map { slot in
            let bucket = snapshot[((slot % Self.bucketCount) + Self.bucketCount) % Self.bucketCount]
            let time = Date(timeIntervalSince1970: TimeInterval(slot * Self.bucketSeconds))
            guard bucket.slot == slot else {
                return Point(time: time, requestsPerSecond: 0, serverErrors: 0, coldStarts: 0)
            }
            return Point(
                time: time, requestsPerSecond: Double(bucket.requests) / Double(Self.bucketSeconds),
                p50Ms: Self.percentile(bucket.latency, 0.5), p99Ms: Self.percentile(bucket.latency, 0.99),
                serverErrors: bucket.serverErrors, coldStarts: bucket.coldStarts,
                coldStartMs: bucket.coldStarts > 0 ? bucket.coldStartMs / Double(bucket.coldStarts) : nil, running: bucket.running
            )
        }
    }

    /// The upper bound of the bucket holding the `q` quantile, nil without samples.
    static func percentile(_ counts: [Int], _ q: Double) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = Int((Double(total) * q).rounded(.up))
        var seen = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return index < latencyBounds.count ? latencyBounds[index] : latencyBounds.last! * 2 }
        }
        return nil
    }
}
