import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import Foundation
import Logging

/// The control plane of one server: registers deployments, switches the gateway to them, rolls
/// running instances over, and on start restores the last deployment and reconciles with the
/// engine. One actor, so that deployments, rollbacks and deletions never interleave.
public actor Deployer {
    public nonisolated let registry: ClassRegistry
    public nonisolated let store: StateStore
    /// The engine: containers, images, their output.
    public nonisolated let engine: any EngineDriver
    /// The `key=value` label of every container this server starts.
    public nonisolated let ownerLabel: String
    nonisolated var runtime: any ContainerRuntime { engine }
    /// The project's secrets (`berth secret`); none when not given.
    public nonisolated let secrets: SecretStore?
    /// Switches the gateway to a deployment's platform (routes, Worker, `env`).
    let serve: @Sendable (Platform) -> Void
    let logger: Logger
    let say: @Sendable (String) -> Void
    /// Starts the Swift Worker processes of deployments that have one.
    public nonisolated let workers: (any WorkerRunner)?

    /// Every deployment, newest first.
    private(set) var history: [Deployment] = []
    var progress: [String: RolloutProgress] = [:]
    /// Every class as the store keeps it: when it last changed, whether it was deleted.
    var classRows: [String: StateStore.ClassRow] = [:]
    private var rolloutTask: Task<Void, Never>?

    public init(
        registry: ClassRegistry, store: StateStore, engine: any EngineDriver, ownerLabel: String, logger: Logger,
        say: @escaping @Sendable (String) -> Void = { _ in }, secrets: SecretStore? = nil, workers: (any WorkerRunner)? = nil,
        serve: @escaping @Sendable (Platform) -> Void
    ) {
        self.secrets = secrets
        self.workers = workers
        self.registry = registry
        self.store = store
        self.engine = engine
        self.ownerLabel = ownerLabel
        self.serve = serve
        self.logger = logger
        self.say = say
    }

    /// The deployment being served.
    public var current: Deployment? { history.first }
    /// What the current deployment serves: its classes, routes and `env`.
    public private(set) var platform: Platform?

    public func progress(of id: String) -> RolloutProgress {
        progress[id] ?? RolloutProgress(state: .pending)
    }

    // MARK: Start

    /// Loads the deployments, serves the newest, and adopts or removes the containers the
    /// engine holds for this server. Call once, before the gateway accepts requests.
    public func restore() async throws(BerthError) -> Reconciler.Outcome {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        for row in try await store.deployments() {
            do {
                history.append(try decoder.decode(Deployment.self, from: Data(row.body.utf8)))
                progress[row.id] = try? decoder.decode(RolloutProgress.self, from: Data(row.rollout.utf8))
            } catch {
                logger.warning("a stored deployment cannot be read; skipped", metadata: ["deployment": "\(row.id)", "error": "\(error)"])
            }
        }
        for row in try await store.classes() { classRows[row.className] = row }
        if let current {
            try await pinObjectNamespace(current)
            do throws(BerthError) { try await prepareWorker(current) } catch {
                // The gateway answers 503 with this reason until a deployment brings a Worker that starts.
                logger.error("the Worker of the current deployment did not start", metadata: ["deployment": "\(current.id)", "error": "\(error.message)"])
                say("error: the Worker of deployment \(current.id) did not start: \(error.message)")
            }
            try activate(current)
            for row in classRows.values { if let reason = row.deleted { registry[row.className]?.disable(reason) } }
        }
        let outcome = try await reconcileWithEngine()
        if let current, current.rollout != .none, progress[current.id]?.isFinished != true {
            startRollout(current)
        }
        return outcome
    }

    /// Adopts or removes the containers the engine holds for this server that no object
    /// holds (see ``Reconciler``): at start, and when the engine answers again after an outage.
    @discardableResult
    public func reconcileWithEngine() async throws(BerthError) -> Reconciler.Outcome {
        let registry = self.registry
        let known = Set(history.map(\.id))
        let grace = current?.config.berth.stopGracePeriod ?? .seconds(10)
        return try await Reconciler(runtime: runtime, logger: logger).reconcile(
            owner: ownerLabel, classes: { name in registry[name] }, knownDeployments: known, grace: grace
        )
    }

    // MARK: Deploy

    /// Registers `deployment`, serves it at once (routes, Worker settings, new instances)
    /// and starts rolling running instances over to it per its mode.
    public func deploy(_ deployment: Deployment) async throws(BerthError) -> Deployment {
        guard Deployment.isValidID(deployment.id) else {
            throw BerthError(.invalidInput, "\"\(deployment.id)\" is not a deployment id: use lowercase letters, digits and '-'")
        }
        guard !history.contains(where: { $0.id == deployment.id }) else {
            throw BerthError(.conflict, "a deployment \(deployment.id) exists already")
        }
        for container in deployment.config.containers {
            guard let image = deployment.images[container.name] else {
                throw BerthError(.invalidInput, "the deployment has no image for container \(container.name)")
            }
            do {
                _ = try await engine.inspectImage(image.reference)
            } catch where error.code == .notFound {
                throw BerthError(.invalidInput, "the image \(image.reference) of container \(container.name) is not on the engine; build it first (berth deploy builds and tags it)")
            }
        }
        try checkSecretNames(deployment.config)
        // A Worker that does not start fails the deployment before anything switches.
        try await prepareWorker(deployment)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        let body: Data
        do { body = try encoder.encode(deployment) } catch { throw BerthError.wrap(error, "cannot encode the deployment") }
        try await store.insertDeployment(id: deployment.id, app: deployment.config.name, createdAt: deployment.createdAt, body: String(decoding: body, as: UTF8.self))
        try await pinObjectNamespace(deployment)
        history.insert(deployment, at: 0)
        try activate(deployment)
        try await saveClasses(deployment)
        await purgeDeletedClasses(deployment.config)
        for retired in registry.all where deployment.config.containers.allSatisfy({ $0.className != retired.className }) {
            // Classes the deployment no longer has: their instances stop now.
            Task { await retired.stopAll() }
        }
        logger.info("deployed", metadata: ["deployment": "\(deployment.id)", "source": "\(deployment.source)", "rollout": "\(deployment.rollout.rawValue)"])
        startRollout(deployment)
        await applyRetention()
        return deployment
    }

    /// Registers a new deployment with the content of `id` (default: the one before the
    /// current), and rolls over to it.
    public func rollback(to id: String?, rollout: RolloutMode?) async throws(BerthError) -> Deployment {
        guard let current else { throw BerthError(.notFound, "nothing is deployed yet, so there is nothing to roll back") }
        let target: Deployment
        if let id {
            // A pruned deployment's content lives on in a kept rollback to it.
            guard let found = history.first(where: { $0.id == id || $0.id.hasPrefix(id) })
                ?? history.first(where: { $0.rollbackOf.map { $0 == id || $0.hasPrefix(id) } ?? false }) else {
                throw await missingDeployment(id)
            }
            target = found
        } else {
            // The newest deployment whose content differs from the current one's origin.
            let currentOrigin = current.rollbackOf ?? current.id
            guard let found = history.dropFirst().first(where: { ($0.rollbackOf ?? $0.id) != currentOrigin }) else {
                throw BerthError(.notFound, "there is no earlier deployment to roll back to")
            }
            target = found
        }
        let restored = Deployment(
            config: target.config, images: target.images, rollout: rollout ?? target.rollout, source: "rollback",
            rollbackOf: target.rollbackOf ?? target.id, worker: target.worker
        )
        return try await deploy(restored)
    }

    /// Starts the Worker process of `deployment`, if it has one, and waits until it is ready.
    func prepareWorker(_ deployment: Deployment) async throws(BerthError) {
        guard let workers, deployment.worker != nil else { return }
        let app = registry.objectNamespace ?? deployment.config.name
        try await workers.prepare(deployment, app: app, secrets: try secretValues(for: deployment.config).values)
    }

    /// Switches the gateway to `deployment`.
    func activate(_ deployment: Deployment) throws(BerthError) {
        let platform = try registry.platform(
            for: deployment.config, images: deployment.images, deploymentID: deployment.id, secrets: try secretValues(for: deployment.config),
            workerClasses: deployment.worker?.containers ?? [:]
        )
        self.platform = platform
        serve(platform)
        // Alarms that waited for a class of this deployment run now.
        if let alarms = registry.alarms { Task { await alarms.wake() } }
    }

    // MARK: Delete

    /// Removes the storage and alarms of the classes a `deleted_classes` migration deleted
    /// (and no container of the deployment still has), as Cloudflare does.
    func purgeDeletedClasses(_ config: ProjectConfig) async {
        for className in config.deletedClasses ?? [] where !config.containers.contains(where: { $0.className == className }) {
            let (objects, alarms) = await registry.purgeStorage(className: className)
            if objects + alarms > 0 {
                say("removed the storage of class \(className) (\(objects) objects, \(alarms) alarms): a migration deleted the class")
                logger.info("storage purged by deleted_classes", metadata: ["class": "\(className)", "objects": "\(objects)", "alarms": "\(alarms)"])
            }
        }
    }

    /// `containers delete`: every instance of the class stops and is removed; requests to it
    /// fail with a message saying so until a deployment brings it back.
    public func deleteClass(_ className: String) async throws(BerthError) -> Int {
        guard let containerClass = registry[className] else { throw BerthError(.notFound, "no container class \(className)") }
        let reason = "the container \(containerClass.settings.containerName) (class \(className)) was deleted with `berth containers delete`; deploy again to bring it back"
        containerClass.disable(reason)
        if var row = classRows[className] {
            row.deleted = reason
            row.modifiedAt = Date()
            classRows[className] = row
            try await store.saveClass(row)
        }
        let live = await containerClass.snapshots().filter(\.isLive).count
        await containerClass.stopAll()
        for leftover in try await runtime.listInstances(labels: [ownerLabel, "\(BerthLabel.className)=\(className)"]) {
            await runtime.removeInstance(leftover.containerID)
        }
        return live
    }

    /// Records the classes of a new deployment; a class's modification time moves only when
    /// what its instances run changes (or it comes back after a deletion).
    private func saveClasses(_ deployment: Deployment) async throws(BerthError) {
        for container in deployment.config.containers {
            guard let containerClass = registry[container.className] else { continue }
            let spec = containerClass.spec
            let previous = classRows[container.className]
            let changed = previous == nil || previous?.fingerprint != spec.fingerprint || previous?.deleted != nil
            let row = StateStore.ClassRow(
                className: container.className, containerName: container.name, deploymentID: deployment.id, image: spec.settings.image,
                fingerprint: spec.fingerprint, modifiedAt: changed ? deployment.createdAt : previous!.modifiedAt
            )
            classRows[container.className] = row
            try await store.saveClass(row)
        }
    }

    /// Stops the rollout in progress (shutdown).
    public func cancelRollout() {
        rolloutTask?.cancel()
    }

    func setProgress(_ id: String, _ value: RolloutProgress) async {
        progress[id] = value
        let encoder = JSONEncoder()
        if let text = try? String(decoding: encoder.encode(value), as: UTF8.self) {
            do { try await store.updateRollout(id: id, rollout: text) } catch {
                logger.warning("could not save a rollout's progress", metadata: ["error": "\(error.message)"])
            }
        }
    }

    func setHistory(_ kept: [Deployment]) {
        history = kept
    }

    func supersede(_ task: Task<Void, Never>?) {
        rolloutTask?.cancel()
        rolloutTask = task
    }
}
