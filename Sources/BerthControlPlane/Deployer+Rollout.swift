import BerthAPI
import BerthConfig
import BerthCore
import BerthRuntime
import Foundation

extension Deployer {
    /// Rolls the running instances of every class over to `deployment`, in the background.
    /// A newer deployment supersedes it.
    func startRollout(_ deployment: Deployment) {
        for (id, value) in progress where id != deployment.id && !value.isFinished {
            var superseded = value
            superseded.state = .superseded
            progress[id] = superseded
        }
        let task = Task { await self.rollout(deployment) }
        supersede(task)
    }

    private func rollout(_ deployment: Deployment) async {
        guard let platform, platform.deploymentID == deployment.id else { return }
        // Instances to replace, by class, in a stable order (oldest first).
        var stale: [(ContainerConfig, [ContainerController])] = []
        var total = 0
        for container in deployment.config.containers {
            guard let containerClass = platform.classes[container.className] else { continue }
            var objects: [(Date, ContainerController)] = []
            for object in containerClass.objects {
                let snapshot = await object.snapshot()
                guard snapshot.state == ContainerStatus.healthy.name, snapshot.deploymentID != deployment.id else { continue }
                objects.append((snapshot.createdAt ?? .distantPast, object))
            }
            objects.sort { $0.0 < $1.0 }
            stale.append((container, objects.map(\.1)))
            total += objects.count
        }
        if deployment.rollout == .none {
            await setProgress(deployment.id, RolloutProgress(state: .skipped, total: total, message: "rollout none: running instances keep their version until they stop"))
            return
        }
        let steps = deployment.rollout == .immediate ? [100] : Self.mergedSteps(deployment.config.containers)
        var state = RolloutProgress(state: .inProgress, total: total, steps: steps)
        await setProgress(deployment.id, state)
        var done: [String: Int] = [:]
        for (index, percentage) in steps.enumerated() {
            if index > 0, let grace = deployment.config.containers.map(\.rolloutActiveGracePeriod).max(), grace > 0 {
                try? await Task.sleep(for: .seconds(grace))
            }
            if Task.isCancelled { break }
            var batch: [ContainerController] = []
            for (container, objects) in stale {
                let target = Int((Double(objects.count) * Double(percentage) / 100).rounded(.up))
                let from = done[container.className] ?? 0
                if target > from { batch += objects[from..<target] }
                done[container.className] = max(from, target)
            }
            let results = await withTaskGroup(of: Result<Bool, BerthError>.self) { group in
                for object in batch {
                    group.addTask {
                        do { return .success(try await object.rollOver()) } catch { return .failure(BerthError.wrap(error)) }
                    }
                }
                var results: [Result<Bool, BerthError>] = []
                for await result in group { results.append(result) }
                return results
            }
            state.step = index + 1
            for result in results {
                switch result {
                case .success(true): state.replaced += 1
                case .success(false): break
                case .failure(let error): state.message = "a replacement did not start: \(error.message)"
                }
            }
            if state.message != nil {
                state.state = .failed
                await setProgress(deployment.id, state)
                say("rollout of \(deployment.id) failed at step \(index + 1): \(state.message ?? "")")
                return
            }
            await setProgress(deployment.id, state)
        }
        if Task.isCancelled {
            state.state = .superseded
        } else {
            state.state = .done
        }
        await setProgress(deployment.id, state)
    }

    /// One plan for all classes: the union of their cumulative steps.
    static func mergedSteps(_ containers: [ContainerConfig]) -> [Int] {
        let all = Set(containers.flatMap(\.rolloutSteps))
        return all.isEmpty ? [100] : all.sorted()
    }
}

extension ContainerConfig {
    /// The rollout's steps as cumulative percentages ending in 100: `[25]` → 25, 50, 75, 100.
    public var rolloutSteps: [Int] {
        let configured = rolloutStepPercentage.isEmpty ? [10, 100] : rolloutStepPercentage
        if configured.count == 1, let step = configured.first, step > 0, step < 100 {
            return Array(stride(from: step, through: 100, by: step)) + (100 % step == 0 ? [] : [100])
        }
        return configured.last == 100 ? configured : configured + [100]
    }
}
