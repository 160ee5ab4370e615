import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import Foundation

extension Deployer {
    /// Every class the current deployment has, and deleted ones.
    public func containerViews() async -> [ContainerView] {
        guard let current else { return [] }
        var views: [ContainerView] = []
        for container in current.config.containers {
            guard let containerClass = registry[container.className] else { continue }
            views.append(await view(of: containerClass, container: container, deployment: current))
        }
        return views
    }

    /// A class by application id (or a unique prefix of at least 4 characters), container
    /// name or class name.
    public func containerView(_ reference: String) async throws(BerthError) -> ContainerView {
        let views = await containerViews()
        if let exact = views.first(where: { $0.id == reference || $0.name == reference || $0.className == reference }) { return exact }
        let prefixed = reference.count >= 4 ? views.filter { $0.id.hasPrefix(reference.lowercased()) } : []
        if prefixed.count == 1 { return prefixed[0] }
        let known = views.map(\.name).joined(separator: ", ")
        throw BerthError(.notFound, "no container \(reference)\(known.isEmpty ? " (nothing is deployed)" : "; containers: \(known)")")
    }

    /// The live and failed instances of a class, oldest first.
    public func instanceViews(_ reference: String) async throws(BerthError) -> [InstanceView] {
        let view = try await containerView(reference)
        guard let containerClass = registry[view.className] else { return [] }
        let location = containerClass.settings.location
        return await containerClass.snapshots()
            .filter { $0.isLive || $0.isFailed }
            .sorted { ($0.createdAt ?? $0.failedAt ?? .distantPast) < ($1.createdAt ?? $1.failedAt ?? .distantPast) }
            .map { snapshot in
                InstanceView(
                    instance: snapshot.instanceID ?? "-", name: snapshot.objectName ?? snapshot.objectID,
                    state: snapshot.isLive ? snapshot.state : "failed", location: location, version: snapshot.deploymentID ?? "-",
                    created: snapshot.createdAt ?? snapshot.failedAt, objectID: snapshot.objectID, containerID: snapshot.containerID,
                    className: snapshot.className, failure: snapshot.failure, webSockets: snapshot.webSockets
                )
            }
    }

    public func deploymentViews() -> [DeploymentView] {
        let currentID = current?.id
        return history.map { deployment in
            DeploymentView(
                id: deployment.id, createdAt: deployment.createdAt, app: deployment.config.name, source: deployment.source,
                rollout: deployment.rollout, rollbackOf: deployment.rollbackOf, current: deployment.id == currentID,
                images: deployment.images.mapValues(\.reference), progress: progress(of: deployment.id)
            )
        }
    }

    private func view(of containerClass: ContainerClass, container: ContainerConfig, deployment: Deployment) async -> ContainerView {
        let snapshots = await containerClass.snapshots()
        let live = snapshots.filter(\.isLive)
        let failed = snapshots.filter(\.isFailed).count
        let spec = containerClass.spec
        let state: ClassState = if spec.disabledReason != nil { .deleted }
            else if failed > 0 { .degraded }
            else if live.contains(where: { $0.state == ContainerStatus.running.name }) { .provisioning }
            else if !live.isEmpty { .active }
            else { .ready }
        let type = container.instanceType
        let bindings = Set(container.bindings)
        let routes = (platform?.routes.configs ?? []).filter { bindings.contains($0.binding) }
            .map { "\($0.prefix) → \($0.binding) (object by \($0.object))" }
        let lastMinute = registry.telemetry?.history(container.className).points(minutes: 1) ?? []
        let requests = lastMinute.reduce(0) { $0 + $1.requestsPerSecond * Double(ActivityHistory.bucketSeconds) }
        let errors = lastMinute.reduce(0) { $0 + $1.serverErrors }
        var view = ContainerView(
            id: ObjectID.fromName(container.name, className: "application", app: deployment.config.name).hex,
            name: container.name, className: container.className, state: state, liveInstances: live.count, failedInstances: failed,
            maxInstances: container.maxInstances, lastModified: classRows[container.className]?.modifiedAt ?? deployment.createdAt, image: spec.settings.image,
            deploymentID: spec.deploymentID, bindings: container.bindings,
            instanceType: "\(type.name) (\(type.vcpu) vCPU, \(type.memoryMiB) MiB)", sleepAfter: DurationText.format(spec.settings.sleepAfter),
            defaultPort: spec.settings.defaultPort, disabled: spec.disabledReason
        )
        view.routes = routes
        let seconds = Double(max(1, lastMinute.count) * ActivityHistory.bucketSeconds)
        view.requestsPerSecond = requests / seconds
        view.errorRate = requests > 0 ? Double(errors) / requests : 0
        view.webSockets = containerClass.openSockets.current
        return view
    }
}
