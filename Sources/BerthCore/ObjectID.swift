
/// The id of a Durable Object: 64 lowercase hex characters, like Cloudflare's.
///
/// `idFromName` ids are derived with SHA-256 from the application, the class and the name, so
/// the same name gives the same id on every restart and every machine.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible, Codable {
    public let hex: String
    /// The name it was derived from, when known (`idFromName`).
    public let name: String?

    private init(hex: String, name: String?) {
        self.hex = hex
        self.name = name
    }

    /// The id for `name` within `className` of `app`.
    public static func fromName(_ name: String, className: String, app: String) -> ObjectID {
        var hasher = SHA256Hasher()
        hasher.update(Array("berth-object-id\u{0}\(app)\u{0}\(className)\u{0}".utf8))
        hasher.update(Array(name.utf8))
        let hex = Hex.encode(hasher.finalize())
        return ObjectID(hex: hex, name: name)
    }

    /// Parses an id printed earlier.
    public static func fromString(_ text: String) throws(BerthError) -> ObjectID {
        let lower = text.lowercased()
        guard lower.utf8.count == 64, lower.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw BerthError(.invalidInput, "\"\(text.prefix(80))\" is not a Durable Object id: an id is 64 hexadecimal characters, as printed by id.toString()")
        }
        return ObjectID(hex: lower, name: nil)
    }

    /// An id read back from a container's labels, with the name it was derived from.
    public static func restored(hex: String, name: String?) throws(BerthError) -> ObjectID {
        ObjectID(hex: try fromString(hex).hex, name: name)
    }

    /// A new random id.
    public static func unique() -> ObjectID {
        ObjectID(hex: Hex.random(bytes: 32), name: nil)
    }

    public var description: String { hex }

    public static func == (lhs: ObjectID, rhs: ObjectID) -> Bool { lhs.hex == rhs.hex }
    public func hash(into hasher: inout Hasher) { hasher.combine(hex) }
}
