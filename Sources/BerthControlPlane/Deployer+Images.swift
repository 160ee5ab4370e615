import BerthCore
import DockerEngine
import Foundation

/// An image tag as `containers images list` shows it.
public struct ImageView: Sendable, Codable, Equatable {
    public var repository: String
    public var tag: String
    public var id: String
    public var created: Date
    public var size: Int64
    /// Containers of the current deployment that run it.
    public var inUse: [String]

    enum CodingKeys: String, CodingKey {
        case repository, tag, id, created, size
        case inUse = "in_use"
    }

    /// Splits `host:port/name:tag` at the tag's colon (the last one after the last slash).
    public static func split(_ reference: String) -> (repository: String, tag: String) {
        let slash = reference.lastIndex(of: "/") ?? reference.startIndex
        guard let colon = reference[slash...].lastIndex(of: ":") else { return (reference, "latest") }
        return (String(reference[..<colon]), String(reference[reference.index(after: colon)...]))
    }
}

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
        for image in try await client.listImages(labels: [BerthLabel.app]) {
            for reference in image.repoTags {
                let (repository, tag) = ImageView.split(reference)
                if tag.hasPrefix("sha256") { continue }
                if let pattern, (try? pattern.firstMatch(in: reference)) == nil { continue }
                rows.append(ImageView(
                    repository: repository, tag: tag, id: image.id, created: Date(timeIntervalSince1970: TimeInterval(image.created)),
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
            let items = try await client.removeImage(reference)
            return ["untagged": items.compactMap(\.untagged), "deleted": items.compactMap(\.deleted)]
        } catch where error.code == .notFound {
            throw BerthError(.notFound, "no image \(reference); `berth containers images list` shows them")
        }
    }
}
