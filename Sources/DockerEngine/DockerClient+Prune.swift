import BerthCore

/// What `POST /build/prune` removed from the builder's cache.
public struct BuildCachePruneReport: Decodable, Sendable, Equatable {
    /// The ids of the cache records removed.
    public var cachesDeleted: [String]
    /// Bytes freed.
    public var spaceReclaimed: Int64

    public init(cachesDeleted: [String] = [], spaceReclaimed: Int64 = 0) {
        self.cachesDeleted = cachesDeleted
        self.spaceReclaimed = spaceReclaimed
    }

    enum CodingKeys: String, CodingKey { case cachesDeleted = "CachesDeleted", spaceReclaimed = "SpaceReclaimed" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cachesDeleted = try c.decodeIfPresent([String].self, forKey: .cachesDeleted) ?? []
        spaceReclaimed = try c.decodeIfPresent(Int64.self, forKey: .spaceReclaimed) ?? 0
    }
}

/// What `POST /images/prune` removed.
public struct ImagePruneReport: Decodable, Sendable {
    /// One item per tag untagged and per image (or parent layer) deleted.
    public var imagesDeleted: [ImageDeleteItem]
    /// Bytes freed.
    public var spaceReclaimed: Int64

    enum CodingKeys: String, CodingKey { case imagesDeleted = "ImagesDeleted", spaceReclaimed = "SpaceReclaimed" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        imagesDeleted = try c.decodeIfPresent([ImageDeleteItem].self, forKey: .imagesDeleted) ?? []
        spaceReclaimed = try c.decodeIfPresent(Int64.self, forKey: .spaceReclaimed) ?? 0
    }
}

extension DockerClient {
    /// Removes the builder's cache records that no image in use needs (`POST /build/prune`).
    /// `filters` are the engine's (`until`, `id`, `type`, `description`, `inuse`, `shared`,
    /// `private`); cache records carry no labels, so they cannot be told apart by owner.
    /// `all` also removes records internal images would reuse.
    public func pruneBuildCache(filters: [String: [String]] = [:], all: Bool = false) async throws(BerthError) -> BuildCachePruneReport {
        try await sendJSON(Request(
            method: .POST, path: "/build/prune",
            query: [("all", all ? "1" : "0"), ("filters", filters.isEmpty ? nil : try Self.json(filters))],
            timeout: .seconds(300), operation: "prune the build cache"
        ))
    }

    /// Removes unused images (`POST /images/prune`): with `dangling` only untagged ones.
    /// `labels` (`key` or `key=value`) narrow it to the images carrying every one of them,
    /// so that Berth removes only its own on an engine others use too.
    public func pruneImages(labels: [String], dangling: Bool = true) async throws(BerthError) -> ImagePruneReport {
        var filters: [String: [String]] = ["dangling": [dangling ? "true" : "false"]]
        if !labels.isEmpty { filters["label"] = labels }
        return try await sendJSON(Request(
            method: .POST, path: "/images/prune", query: [("filters", try Self.json(filters))],
            timeout: .seconds(300), operation: "prune images"
        ))
    }
}
