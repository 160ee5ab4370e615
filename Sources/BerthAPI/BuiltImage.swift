import Foundation

/// An image ready to run for one container class.
public struct BuiltImage: Sendable, Codable, Equatable {
    /// The tag or id to create containers from.
    public var reference: String
    /// The engine's image id (`sha256:…`), when known.
    public var id: String?
    /// Ports the image EXPOSEs, in order.
    public var exposedPorts: [Int]

    public init(reference: String, id: String? = nil, exposedPorts: [Int]) {
        self.reference = reference
        self.id = id
        self.exposedPorts = exposedPorts
    }

    enum CodingKeys: String, CodingKey {
        case reference, id
        case exposedPorts = "exposed_ports"
    }
}
