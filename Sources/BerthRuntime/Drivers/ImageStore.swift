import BerthCore
import Foundation

/// What to build: a context folder and its Dockerfile.
public struct ImageBuildRequest: Sendable {
    /// The build context folder.
    public var contextDirectory: String
    /// The Dockerfile, absolute or relative to the context.
    public var dockerfile: String
    /// `repository:tag` names for the result.
    public var tags: [String]
    /// `ARG` values.
    public var buildArgs: [String: String]
    /// Labels put on the image.
    public var labels: [String: String]

    public init(contextDirectory: String, dockerfile: String, tags: [String], buildArgs: [String: String] = [:], labels: [String: String] = [:]) {
        self.contextDirectory = contextDirectory
        self.dockerfile = dockerfile
        self.tags = tags
        self.buildArgs = buildArgs
        self.labels = labels
    }
}

/// Progress of a build, as a person follows it.
public enum ImageBuildEvent: Sendable, Equatable {
    /// A Dockerfile instruction starts: `Step 2/4 : COPY busybox /bin/busybox`.
    case step(number: Int, total: Int, instruction: String)
    /// The step before reused a cached layer.
    case cacheHit
    /// Any other line of output (a `RUN` command's output, a pull's progress).
    case output(String)
}

/// An image as the engine describes it.
public struct ImageInfo: Sendable, Equatable {
    /// The engine's id (`sha256:…`).
    public var id: String
    /// Ports the image EXPOSEs over TCP, in order.
    public var exposedPorts: [Int]

    public init(id: String, exposedPorts: [Int]) {
        self.id = id
        self.exposedPorts = exposedPorts
    }
}

/// An image as a listing reports it.
public struct ImageRecord: Sendable, Equatable {
    public var id: String
    /// `repository:tag` names; empty for an untagged image.
    public var tags: [String]
    public var created: Date
    public var size: Int64

    public init(id: String, tags: [String], created: Date, size: Int64) {
        self.id = id
        self.tags = tags
        self.created = created
        self.size = size
    }
}

/// What removing an image tag did.
public struct ImageRemoval: Sendable, Equatable {
    /// Tags removed.
    public var untagged: [String]
    /// Image ids removed (none while other tags still use the image).
    public var deleted: [String]

    public init(untagged: [String], deleted: [String]) {
        self.untagged = untagged
        self.deleted = deleted
    }
}

/// Credentials for an OCI registry.
public struct RegistryCredentials: Sendable {
    public var username: String?
    public var password: String?
    /// `HOST:PORT`.
    public var server: String

    public init(username: String?, password: String?, server: String) {
        self.username = username
        self.password = password
        self.server = server
    }
}

/// The images of an engine: builds (with its layer cache), lookups, tags, pushes. Every
/// call that names a missing image throws ``BerthError/Code/notFound``.
public protocol ImageStore: Sendable {
    /// Builds an image and returns its id; a failed build throws `buildFailed` with the
    /// engine's message.
    func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (ImageBuildEvent) -> Void) async throws(BerthError) -> String
    /// Fetches an image from its registry.
    func pullImage(_ reference: String, progress: @escaping @Sendable (ImageBuildEvent) -> Void) async throws(BerthError)
    func inspectImage(_ reference: String) async throws(BerthError) -> ImageInfo
    /// Images carrying every label (`key` or `key=value`).
    func listImages(labels: [String]) async throws(BerthError) -> [ImageRecord]
    func tagImage(_ source: String, repository: String, tag: String) async throws(BerthError)
    /// Removes one tag, and the image once no tag is left.
    func removeImage(_ reference: String) async throws(BerthError) -> ImageRemoval
    /// Pushes `repository:tag`; `progress` gets a line per layer event worth showing.
    func pushImage(repository: String, tag: String, credentials: RegistryCredentials, progress: @escaping @Sendable (String) -> Void) async throws(BerthError)
}
