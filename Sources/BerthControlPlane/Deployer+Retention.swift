import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import Foundation

extension Deployer {
    /// What ``applyRetention()`` removed.
    public struct Pruned: Sendable, Equatable {
        public var deployments: [String] = []
        public var images: [String] = []
    }

    /// `berth.retention`: keeps the newest `deployments` deployments and removes the others
    /// from the state store, and the images Berth built for them from the engine. Never the
    /// served deployment, nor one whose instances still run (a rollout in progress, instances
    /// kept by rollout `none`); never an image a kept deployment uses. Runs after each deploy.
    @discardableResult
    public func applyRetention() async -> Pruned {
        guard let current else { return Pruned() }
        let keep = max(1, current.config.berth.retention.deployments)
        guard history.count > keep else { return Pruned() }
        let running: Set<String>
        do {
            running = Set(try await runtime.listInstances(labels: [ownerLabel]).compactMap { $0.labels[BerthLabel.deployment] })
        } catch {
            // Without the engine's word on what runs, nothing is pruned.
            logger.warning("retention skipped: the engine did not list the instances", metadata: ["error": "\(error.message)"])
            return Pruned()
        }
        let older = history.dropFirst(keep)
        let doomed = older.filter { !running.contains($0.id) }
        guard !doomed.isEmpty else { return Pruned() }
        let doomedIDs = Set(doomed.map(\.id))
        let kept = history.filter { !doomedIDs.contains($0.id) }
        let keptImages = Set(kept.flatMap { $0.images.values.map(\.reference) })
        do {
            try await store.pruneDeployments(doomed.map(\.id))
        } catch {
            logger.warning("retention skipped: the state store failed", metadata: ["error": "\(error.message)"])
            return Pruned()
        }
        setHistory(kept)
        for id in doomedIDs { progress[id] = nil }
        var pruned = Pruned(deployments: doomed.map(\.id))
        let images = Set(doomed.flatMap(Self.imagesBuilt)).subtracting(keptImages)
        for reference in images.sorted() {
            do {
                _ = try await engine.removeImage(reference)
                pruned.images.append(reference)
            } catch where error.code == .notFound {
                continue
            } catch {
                logger.warning("retention could not remove an image", metadata: ["image": "\(reference)", "error": "\(error.message)"])
            }
        }
        logger.info("retention pruned deployments", metadata: [
            "kept": "\(kept.count)", "deployments": "\(pruned.deployments.joined(separator: ","))",
            "images": "\(pruned.images.joined(separator: ","))",
        ])
        say("pruned \(pruned.deployments.count) deployment(s) beyond berth.retention.deployments = \(keep): \(pruned.deployments.joined(separator: ", "))\(pruned.images.isEmpty ? "" : "; images \(pruned.images.joined(separator: ", "))")")
        return pruned
    }

    /// The images Berth built and tagged for `deployment`'s containers (`berth.local/…`);
    /// images the configuration names are the user's and stay.
    static func imagesBuilt(_ deployment: Deployment) -> [String] {
        deployment.config.containers.compactMap { container in
            guard case .dockerfile = container.image, let reference = deployment.images[container.name]?.reference,
                  reference.hasPrefix(ImageBuilder.tagPrefix) else { return nil }
            return reference
        }
    }

    /// Why `berth rollback` cannot find `id`: pruned by retention, or never deployed.
    func missingDeployment(_ id: String) async -> BerthError {
        let pruned = (try? await store.prunedDeployments()) ?? []
        if let match = pruned.first(where: { $0 == id || $0.hasPrefix(id) }) {
            let keep = current?.config.berth.retention.deployments ?? RetentionSettings().deployments
            return BerthError(.notFound, "deployment \(match) was pruned: berth.retention keeps the last \(keep) deployments and their images; roll back to one that `berth deployments list` shows, or deploy that version again")
        }
        return BerthError(.notFound, "no deployment \(id); `berth deployments list` shows them")
    }
}
