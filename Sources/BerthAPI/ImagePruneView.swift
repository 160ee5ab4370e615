import Foundation

/// What `berth containers images prune` reclaimed: dangling images Berth built, and the
/// engine's build cache.
public struct ImagePruneView: Sendable, Codable, Equatable {
    /// The label filters that chose the images (`berth.app=<app>`, or `berth.app`).
    public var labels: [String]
    /// Ids of the images (and their parent layers) removed.
    public var imagesDeleted: [String]
    /// Bytes the image removals freed.
    public var imagesSpaceReclaimed: Int64
    /// Whether the build cache was pruned (not with `--no-build-cache`).
    public var buildCachePruned: Bool
    /// Build cache records removed.
    public var buildCacheRecords: Int
    /// Bytes the build cache prune freed.
    public var buildCacheSpaceReclaimed: Int64
    /// Bytes freed in all.
    public var spaceReclaimed: Int64

    public init(
        labels: [String], imagesDeleted: [String], imagesSpaceReclaimed: Int64, buildCachePruned: Bool, buildCacheRecords: Int,
        buildCacheSpaceReclaimed: Int64
    ) {
        self.labels = labels
        self.imagesDeleted = imagesDeleted
        self.imagesSpaceReclaimed = imagesSpaceReclaimed
        self.buildCachePruned = buildCachePruned
        self.buildCacheRecords = buildCacheRecords
        self.buildCacheSpaceReclaimed = buildCacheSpaceReclaimed
        spaceReclaimed = imagesSpaceReclaimed + buildCacheSpaceReclaimed
    }

    enum CodingKeys: String, CodingKey {
        case labels
        case imagesDeleted = "images_deleted", imagesSpaceReclaimed = "images_space_reclaimed"
        case buildCachePruned = "build_cache_pruned", buildCacheRecords = "build_cache_records"
        case buildCacheSpaceReclaimed = "build_cache_space_reclaimed", spaceReclaimed = "space_reclaimed"
    }
}
