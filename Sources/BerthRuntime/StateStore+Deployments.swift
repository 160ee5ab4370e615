import BerthCore
import Foundation
import SQLiteNIO

extension StateStore {
    /// How many pruned deployment ids the store remembers, so that `berth rollback` can say a
    /// deployment was pruned rather than that it never existed.
    static let prunedMemory = 1000

    /// Deletes the deployments `ids` and remembers that they were pruned, in one transaction.
    public func pruneDeployments(_ ids: [String]) async throws(BerthError) {
        guard !ids.isEmpty else { return }
        let remembered = (try await prunedDeployments()).filter { !ids.contains($0) }
        let kept = Array((ids + remembered).prefix(Self.prunedMemory))
        try await run("BEGIN")
        do {
            for id in ids { try await run("DELETE FROM deployments WHERE id = ?", [.text(id)]) }
            try await setMeta("pruned_deployments", kept.joined(separator: "\n"))
            try await run("COMMIT")
        } catch {
            try? await run("ROLLBACK")
            throw error
        }
    }

    /// The ids of the deployments retention removed, newest first.
    public func prunedDeployments() async throws(BerthError) -> [String] {
        (try await meta("pruned_deployments") ?? "").split(separator: "\n").map(String.init)
    }
}
