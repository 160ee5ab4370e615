import Foundation

/// The phases of the machine and the instance each one owns.
extension ControllerStateMachine {
    /// Where the object is in its lifecycle; every phase but `stopped` owns its instance.
    enum Phase: Equatable {
        /// No container. `exitCode` is set when the last one exited on its own.
        case stopped(exitCode: Int?)
        /// Creating, starting, waiting for the ports.
        case starting(Instance)
        case healthy(Instance)
        /// Stop requested; `restart` when requests arrived meanwhile and need a new instance.
        case stopping(Instance, restart: Bool)

        /// The instance this phase owns, if any.
        var instance: Instance? {
            switch self {
            case .starting(let instance), .healthy(let instance), .stopping(let instance, _): instance
            case .stopped: nil
            }
        }
    }

    /// Who an instance is, fixed when its start begins (a rollout of the same content may
    /// move it to a new deployment).
    struct Launch: Sendable, Equatable {
        /// Its `CLOUDFLARE_DEPLOYMENT_ID` and `berth.instance` label.
        var instanceID: String
        var deploymentID: String
        var fingerprint: String
        var created: Date
        /// When its start was asked for, on the controller's clock (cold starts count from it).
        var requested: ContinuousClock.Instant
        /// The settings it runs with, shared with every instance started from one spec.
        var settings: SettingsBox

        static func == (a: Launch, b: Launch) -> Bool {
            a.instanceID == b.instanceID && a.deploymentID == b.deploymentID && a.fingerprint == b.fingerprint
                && a.created == b.created && a.requested == b.requested && a.settings === b.settings
        }
    }

    /// One instance and what it holds, owned by the phase it is in.
    struct Instance: Sendable, Equatable {
        /// Names this attempt; events about an earlier one change nothing.
        let generation: Int
        var launch: Launch
        /// The container, once the engine created it; its endpoints once healthy.
        var running: RunningInstance?
        /// Whether it counts against `max_instances`.
        var slotHeld = false
        /// Found running after a restart of Berth rather than started.
        var adopted = false

        static func == (a: Instance, b: Instance) -> Bool {
            a.generation == b.generation && a.launch == b.launch && a.slotHeld == b.slotHeld
                && a.running?.containerID == b.running?.containerID && a.running?.endpoints == b.running?.endpoints
        }
    }
}
