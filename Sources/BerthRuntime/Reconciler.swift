import BerthCore
import Foundation
import Logging

/// Brings the engine in line with what Berth knows, when Berth starts and whenever the engine
/// answers again after an outage: running containers it owns are adopted by their objects
/// (the same instance keeps serving), containers of deployments or classes it no longer knows
/// and second containers of an object that has an instance are stopped and removed, and
/// stopped leftovers are removed (not those a class keeps for a crash loop's next start). Containers are found by their labels only; a container its
/// object claims (its instance's, or one it is removing) is left alone, so that it is safe
/// while Berth serves and starts instances. Running it again changes nothing.
public struct Reconciler: Sendable {
    /// What a reconciliation did.
    public struct Outcome: Sendable, Equatable {
        /// Instance ids now served again.
        public var adopted: [String] = []
        /// Running containers stopped because nothing current owns them.
        public var stopped: [String] = []
        /// Stopped containers removed.
        public var removed: [String] = []
    }

    let runtime: any ContainerRuntime
    let logger: Logger

    public init(runtime: any ContainerRuntime, logger: Logger) {
        self.runtime = runtime
        self.logger = logger
    }

    /// - Parameters:
    ///   - owner: the `key=value` label every container of this server carries.
    ///   - classes: the serving class of a class name, if it still serves.
    ///   - knownDeployments: the deployments the state store holds.
    ///   - grace: the stop grace period for orphans.
    public func reconcile(
        owner: String, classes: @Sendable (String) -> ContainerClass?, knownDeployments: Set<String>, grace: Duration
    ) async throws(BerthError) -> Outcome {
        var outcome = Outcome()
        var orphans: [String] = []
        for found in try await runtime.listInstances(labels: [owner]) {
            if await claimed(found, classes: classes) { continue }
            guard found.running else {
                await runtime.removeInstance(found.containerID)
                outcome.removed.append(found.containerID)
                continue
            }
            if let instanceID = await adopt(found, classes: classes, knownDeployments: knownDeployments) {
                outcome.adopted.append(instanceID)
            } else {
                orphans.append(found.containerID)
            }
        }
        let runtime = self.runtime
        await withTaskGroup(of: Void.self) { group in
            for id in orphans {
                group.addTask {
                    try? await runtime.stopInstance(id, signal: "SIGTERM", grace: grace)
                    await runtime.removeInstance(id)
                }
            }
        }
        outcome.stopped = orphans
        if !outcome.adopted.isEmpty || !orphans.isEmpty || !outcome.removed.isEmpty {
            logger.info("reconciled with the engine", metadata: [
                "adopted": "\(outcome.adopted.count)", "stopped": "\(orphans.count)", "removed": "\(outcome.removed.count)",
            ])
        }
        return outcome
    }

    /// Whether the container's object, if in memory, holds it as its own (or its class keeps
    /// it, stopped, for the object's next start after a crash).
    private func claimed(_ found: InstanceSummary, classes: @Sendable (String) -> ContainerClass?) async -> Bool {
        let labels = found.labels
        guard let containerClass = labels[BerthLabel.className].flatMap(classes), let objectHex = labels[BerthLabel.object],
              let objectID = try? ObjectID.restored(hex: objectHex, name: labels[BerthLabel.objectName])
        else { return false }
        if containerClass.parks(objectID, containerID: found.containerID) { return true }
        guard let controller = containerClass.existing(objectID) else { return false }
        return await controller.claims(containerID: found.containerID, instanceID: labels[BerthLabel.instance])
    }

    /// Hands a running container to its object; nil when nothing current owns it.
    private func adopt(
        _ found: InstanceSummary, classes: @Sendable (String) -> ContainerClass?, knownDeployments: Set<String>
    ) async -> String? {
        let labels = found.labels
        guard let className = labels[BerthLabel.className], let containerClass = classes(className),
              containerClass.spec.disabledReason == nil,
              let deploymentID = labels[BerthLabel.deployment], knownDeployments.contains(deploymentID),
              let instanceID = labels[BerthLabel.instance], let objectHex = labels[BerthLabel.object],
              let objectID = try? ObjectID.restored(hex: objectHex, name: labels[BerthLabel.objectName]),
              let instance = try? await runtime.runningInstance(found.containerID), !instance.endpoints.isEmpty
        else { return nil }
        let adopted = AdoptedInstance(
            instanceID: instanceID, deploymentID: deploymentID, fingerprint: labels[BerthLabel.fingerprint], created: found.created,
            instance: instance
        )
        // A second container for an object that already has one is a duplicate: not adopted.
        return await containerClass.get(objectID).adopt(adopted) ? instanceID : nil
    }
}
