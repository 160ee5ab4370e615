/// A line and column in a configuration file, both counted from 1. Columns count characters
/// (Unicode scalars), not bytes.
public struct SourcePosition: Hashable, Sendable, Codable, Comparable {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

/// A parsed configuration value that remembers where it was written, so that every
/// validation error can point at the offending key or value. JSONC and TOML both parse to it.
public struct ConfigNode: Sendable {
    /// One `key: value` of an object, in source order.
    public struct Member: Sendable {
        public var key: String
        public var keyPosition: SourcePosition
        public var value: ConfigNode
    }

    public enum Value: Sendable {
        case object([Member])
        case array([ConfigNode])
        case string(String)
        case integer(Int)
        case double(Double)
        case bool(Bool)
        case null
    }

    public var value: Value
    /// Where the value starts.
    public var position: SourcePosition

    public init(_ value: Value, at position: SourcePosition) {
        self.value = value
        self.position = position
    }

    /// The member named `key` of an object (the last one, if the key repeats).
    public subscript(key: String) -> ConfigNode? {
        member(key)?.value
    }

    public func member(_ key: String) -> Member? {
        guard case .object(let members) = value else { return nil }
        return members.last { $0.key == key }
    }

    /// What this value is called in messages: "a string", "an array"…
    public var kindDescription: String {
        switch value {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .integer: "an integer"
        case .double: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// A short rendering of the value for messages.
    public var shortDescription: String {
        switch value {
        case .object: "{…}"
        case .array: "[…]"
        case .string(let s): "\"\(s)\""
        case .integer(let i): String(i)
        case .double(let d): String(d)
        case .bool(let b): String(b)
        case .null: "null"
        }
    }
}
