import BerthAPI
import BerthCore
import BerthRuntime
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// Berth's metrics, recorded through swift-metrics into a Prometheus registry of the server's
/// own (no global bootstrap), and the dashboard's last hour per class.
///
/// | series | type |
/// |---|---|
/// | `berth_requests_total{class,status}` | counter |
/// | `berth_request_duration_seconds{class,status}` | histogram, to the response head |
/// | `berth_cold_start_duration_seconds{class}` | histogram, start to healthy |
/// | `berth_container_start_failures_total{class}` | counter |
/// | `berth_proxy_errors_total{class}` | counter: the container dropped or refused a request |
/// | `berth_max_instances_rejections_total{class}` | counter |
/// | `berth_instances{class,state}` | gauge, set when scraped |
/// | `berth_objects{class}` | gauge: objects in memory, set when scraped |
/// | `berth_engine_up` | gauge: 1 while the engine answers (``EngineMonitor``) |
/// | `berth_websockets_open{class}` | gauge: WebSockets open to the class's objects, set when scraped |
/// | `berth_websockets_open_by_instance{class,instance}` | gauge: per live instance with sockets, set when scraped |
public final class Telemetry: InstanceObserver {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    private let classes = Mutex<[String: ClassTelemetry]>([:])
    private let instanceGauges = Mutex<[String: CoreMetrics.Gauge]>([:])
    /// `berth_websockets_open_by_instance` by class and instance: those of instances gone are
    /// destroyed at the next sample, so the series do not grow with instances that ever were.
    private let socketGauges = Mutex<[String: CoreMetrics.Gauge]>([:])

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000].map { .microseconds(Int64($0 * 1000)) }
        factory.durationHistogramBuckets["berth_cold_start_duration_seconds"] = [100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 20000]
            .map { .milliseconds($0) }
        self.factory = factory
    }

    /// The metrics of one class, which observes its requests.
    public func forClass(_ className: String) -> ClassTelemetry {
        classes.withLock { classes in
            if let existing = classes[className] { return existing }
            let created = ClassTelemetry(className: className, factory: factory)
            classes[className] = created
            return created
        }
    }

    public func instance(_ record: InstanceRecord, _ event: InstanceEvent) {
        let metrics = forClass(record.className)
        switch event {
        case .healthy(let coldStart):
            metrics.coldStart.recordNanoseconds(coldStart.nanoseconds)
            metrics.history.coldStart(coldStart)
        case .failed:
            // max_instances rejections never get this far: they are not start failures.
            metrics.startFailures.increment()
        default:
            break
        }
    }

    /// Sets the instance gauges and the history's running counts from the classes' objects.
    public func sample(_ registry: ClassRegistry) async {
        for containerClass in registry.all {
            let snapshots = await containerClass.snapshots()
            var byState: [String: Int] = ["running": 0, "healthy": 0, "stopping": 0, "stopped": 0, "stopped_with_code": 0]
            for snapshot in snapshots { byState[snapshot.state, default: 0] += 1 }
            for (state, count) in byState { gauge(containerClass.className, state).record(count) }
            gauge(containerClass.className, nil).record(containerClass.objectCount)
            forClass(containerClass.className).history.running(snapshots.filter(\.isLive).count)
            gauge(containerClass.className, "\u{0}websockets").record(containerClass.openSockets.current)
            sampleSockets(containerClass.className, snapshots)
        }
    }

    private func sampleSockets(_ className: String, _ snapshots: [ObjectSnapshot]) {
        var counts: [String: Int] = [:]
        for snapshot in snapshots where snapshot.webSockets > 0 {
            if let instance = snapshot.instanceID { counts[instance, default: 0] += snapshot.webSockets }
        }
        socketGauges.withLock { gauges in
            let prefix = className + "\u{0}"
            for (key, gauge) in gauges where key.hasPrefix(prefix) && counts[String(key.dropFirst(prefix.count))] == nil {
                gauge.destroy()
                gauges[key] = nil
            }
            for (instance, count) in counts {
                let key = prefix + instance
                let gauge = gauges[key] ?? CoreMetrics.Gauge(
                    label: "berth_websockets_open_by_instance", dimensions: [("class", className), ("instance", instance)], factory: factory
                )
                gauges[key] = gauge
                gauge.record(count)
            }
        }
    }

    /// `berth_instances{class,state}`, or `berth_objects{class}` without a state.
    private func gauge(_ className: String, _ state: String?) -> CoreMetrics.Gauge {
        instanceGauges.withLock { gauges in
            let key = className + "\u{0}" + (state ?? "\u{0}objects")
            if let existing = gauges[key] { return existing }
            let created = if state == "\u{0}websockets" {
                CoreMetrics.Gauge(label: "berth_websockets_open", dimensions: [("class", className)], factory: factory)
            } else if let state {
                CoreMetrics.Gauge(label: "berth_instances", dimensions: [("class", className), ("state", state)], factory: factory)
            } else {
                CoreMetrics.Gauge(label: "berth_objects", dimensions: [("class", className)], factory: factory)
            }
            gauges[key] = created
            return created
        }
    }

    /// The Prometheus text format of every series, after sampling the instance gauges.
    public func exposition(_ classRegistry: ClassRegistry) async -> String {
        await sample(classRegistry)
        return registry.emitToString()
    }

    public func history(_ className: String) -> ActivityHistory {
        forClass(className).history
    }
}

/// One class's counters and histograms; it observes the class's requests.
public final class ClassTelemetry: RequestObserver {
    let className: String
    let factory: PrometheusMetricsFactory
    let coldStart: CoreMetrics.Timer
    let startFailures: CoreMetrics.Counter
    let proxyErrors: CoreMetrics.Counter
    let rejections: CoreMetrics.Counter
    public let history = ActivityHistory()
    private let byStatus = Mutex<[Int: (CoreMetrics.Counter, CoreMetrics.Timer)]>([:])

    init(className: String, factory: PrometheusMetricsFactory) {
        self.className = className
        self.factory = factory
        let dimensions = [("class", className)]
        coldStart = CoreMetrics.Timer(label: "berth_cold_start_duration_seconds", dimensions: dimensions, factory: factory)
        startFailures = CoreMetrics.Counter(label: "berth_container_start_failures_total", dimensions: dimensions, factory: factory)
        proxyErrors = CoreMetrics.Counter(label: "berth_proxy_errors_total", dimensions: dimensions, factory: factory)
        rejections = CoreMetrics.Counter(label: "berth_max_instances_rejections_total", dimensions: dimensions, factory: factory)
    }

    public func request(className: String, status: Int, duration: Duration, failure: BerthError.Code?) {
        let (counter, timer) = byStatus.withLock { metrics in
            if let existing = metrics[status] { return existing }
            let dimensions = [("class", self.className), ("status", String(status))]
            let created = (
                CoreMetrics.Counter(label: "berth_requests_total", dimensions: dimensions, factory: factory),
                CoreMetrics.Timer(label: "berth_request_duration_seconds", dimensions: dimensions, factory: factory)
            )
            metrics[status] = created
            return created
        }
        counter.increment()
        timer.recordNanoseconds(duration.nanoseconds)
        history.request(status: status, duration: duration)
        switch failure {
        case .capacityExceeded?: rejections.increment()
        case .containerUnreachable?: proxyErrors.increment()
        default: break
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds.
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
