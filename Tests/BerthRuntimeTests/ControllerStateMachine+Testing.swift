@testable import BerthRuntime
import Foundation

/// Events as the tests write them: each start gets a launch named after its generation, and
/// a start that succeeds gets a container first.
extension ControllerStateMachine {
    static let testSettings = SettingsBox(ContainerSettings(app: "app", className: "C", containerName: "c", image: "img", defaultPort: 8080))

    static func testLaunch(_ n: Int, at instant: Instant = .now) -> Launch {
        Launch(instanceID: "i\(n)", deploymentID: "d", fingerprint: "f", created: Date(timeIntervalSince1970: 0), requested: instant, settings: testSettings)
    }

    static func testRunning(_ n: Int) -> RunningInstance {
        RunningInstance(containerID: "c\(n)", endpoints: [8080: Endpoint(host: "127.0.0.1", port: 40000 + n)])
    }

    var nextLaunch: Launch { Self.testLaunch(generation + 1) }

    mutating func requestArrived(now: Instant) -> (Admission, [Action]) {
        let launch = nextLaunch
        return requestArrived(now: now, launch: launch)
    }

    mutating func startRequested() -> [Action] {
        let launch = nextLaunch
        return startRequested(launch: launch)
    }

    mutating func startFailed(generation: Int) -> [Action] {
        let launch = nextLaunch
        return startFailed(generation: generation, launch: launch)
    }

    mutating func containerExited(generation: Int, exitCode: Int) -> [Action] {
        let launch = nextLaunch
        return containerExited(generation: generation, exitCode: exitCode, launch: launch)
    }

    mutating func adopt(now: Instant) -> Int? {
        let (launch, running) = (nextLaunch, Self.testRunning(generation + 1))
        return adopt(now: now, launch: launch, running: running, slotHeld: false)
    }

    /// Creates the container of a start that has none yet, then reports its ports answered.
    mutating func startSucceeded(generation: Int, now: Instant) -> [Action] {
        if case .starting(let instance) = phase, instance.generation == generation, instance.running == nil {
            _ = instanceCreated(generation: generation, running: Self.testRunning(generation))
        }
        let endpoints = instance(generation)?.running?.endpoints ?? [:]
        return startSucceeded(generation: generation, endpoints: endpoints, now: now)
    }
}
