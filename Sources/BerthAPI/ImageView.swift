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


    public init(
        repository: String, tag: String, id: String, created: Date, size: Int64, inUse: [String]
    ) {
        self.repository = repository
        self.tag = tag
        self.id = id
        self.created = created
        self.size = size
        self.inUse = inUse
    }
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
