import BerthAPI
import BerthCore
import BerthRuntime
import Foundation

extension Deployer {
    /// The images Berth built (labelled `berth.app`), one row per tag; tags that are digests
    /// (`sha256…`) are hidden. `filter` is a regular expression matched against
    /// `repository:tag`.
    public func images(filter: String?) async throws(BerthError) -> [ImageView] {
        var pattern: Regex<AnyRegexOutput>?
        if let filter, !filter.isEmpty {
            do { pattern = try Regex(filter) } catch {
                throw BerthError(.invalidInput, "--filter \(filter) is not a regular expression: \(error)")
            }
        }
        let used = current.map { deployment in
            Dictionary(grouping: deployment.images, by: { $0.value.reference }).mapValues { $0.map(\.key).sorted() }
        } ?? [:]
        var rows: [ImageView] = []
        for image in try await engine.listImages(labels: [BerthLabel.app]) {
            for reference in image.tags {
                let (repository, tag) = ImageView.split(reference)
                if tag.hasPrefix("sha256") { continue }
                if let pattern, (try? pattern.firstMatch(in: reference)) == nil { continue }
                rows.append(ImageView(
                    repository: repository, tag: tag, id: image.id, created: image.created,
                    size: image.size, inUse: used[reference] ?? []
                ))
            }
        }
        return rows.sorted { ($0.repository, $1.created) < ($1.repository, $0.created) }
    }

    /// Removes one tag (and the image when no tag is left). Refused for an image the current
    /// deployment runs: new instances would have nothing to start from.
    public func deleteImage(_ reference: String) async throws(BerthError) -> [String: [String]] {
        if let current, let user = current.images.first(where: { $0.value.reference == reference }) {
            throw BerthError(.conflict, "\(reference) is the image of container \(user.key) in the current deployment \(current.id); deploy another version first")
        }
        do {
            let removal = try await engine.removeImage(reference)
            return ["untagged": removal.untagged, "deleted": removal.deleted]
        } catch where error.code == .notFound {
            throw BerthError(.notFound, "no image \(reference); `berth containers images list` shows them")
        }
    }
}
