/// Parses TOML (v1.0) — the `wrangler.toml` dialect — into a ``ConfigNode`` tree that keeps
/// every value's position. Dates and times are kept as strings.
public enum TOMLParser {
    public static func parse(_ text: String) throws(ConfigSyntaxError) -> ConfigNode {
        var parser = TOMLDocumentParser(scanner: SourceScanner(text))
        try parser.parseDocument()
        return parser.root.node()
    }

    final class Table {
        enum Origin { case implicit, header, dotted, inline }
        let position: SourcePosition
        var origin: Origin
        /// How many tables and arrays hold this one (the root: 0), counted the way the
        /// ``ConfigNode`` tree will nest them.
        let depth: Int
        var keys: [String] = []
        var items: [String: (keyPosition: SourcePosition, item: Item)] = [:]

        init(at position: SourcePosition, origin: Origin, depth: Int) {
            self.position = position
            self.origin = origin
            self.depth = depth
        }

        func set(_ key: String, at position: SourcePosition, _ item: Item) {
            if items[key] == nil { keys.append(key) }
            items[key] = (position, item)
        }

        func node() -> ConfigNode {
            let members = keys.map { key in
                let entry = items[key]!
                return ConfigNode.Member(key: key, keyPosition: entry.keyPosition, value: entry.item.node())
            }
            return ConfigNode(.object(members), at: position)
        }
    }

    enum Item {
        case value(ConfigNode)
        case table(Table)
        case tableArray([Table], SourcePosition)

        func node() -> ConfigNode {
            switch self {
            case .value(let node): node
            case .table(let table): table.node()
            case .tableArray(let tables, let position): ConfigNode(.array(tables.map { $0.node() }), at: position)
            }
        }
    }

    struct Key {
        var parts: [(name: String, position: SourcePosition)]
        var dotted: String { parts.map(\.name).joined(separator: ".") }
    }
}
