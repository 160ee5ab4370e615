import BerthCore
import Foundation

/// A Swift Worker as a deployment records it: the executable `berth dev` or `berth deploy`
/// built from the project's Worker package, stored on the server by its content's SHA-256,
/// and the properties of the Container classes it declares.
public struct WorkerBuild: Sendable, Codable, Equatable {
    /// SHA-256 of the executable, lowercase hex: its name in the state folder's `workers/`.
    public var sha256: String
    /// The package's executable product.
    public var product: String
    /// `debug` (`berth dev`) or `release` (`berth deploy`).
    public var configuration: String
    public var sizeBytes: Int
    public var builtAt: Date
    /// The Container classes the Worker declares, with their properties (they replace the
    /// configuration's `berth.classes` settings for those classes).
    public var containers: [String: ContainerProperties]

    public init(sha256: String, product: String, configuration: String, sizeBytes: Int, builtAt: Date = Date(), containers: [String: ContainerProperties]) {
        self.sha256 = sha256
        self.product = product
        self.configuration = configuration
        self.sizeBytes = sizeBytes
        self.builtAt = builtAt
        self.containers = containers
    }

    enum CodingKeys: String, CodingKey {
        case sha256, product, configuration, containers
        case sizeBytes = "size_bytes", builtAt = "built_at"
    }

    /// Whether `text` can be a Worker's SHA-256 (and so a file name).
    public static func isValidDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
