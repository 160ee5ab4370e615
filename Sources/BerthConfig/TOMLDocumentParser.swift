/// Reads TOML statements into ``TOMLParser/Table``s, keeping positions.
struct TOMLDocumentParser {
    var scanner: SourceScanner
    let root = TOMLParser.Table(at: SourcePosition(line: 1, column: 1), origin: .header, depth: 0)
    /// The deepest a value may sit, counting every table and array that holds it, however it
    /// was written (headers, dotted keys, inline tables, arrays): the parser and every walk
    /// over the tree recurse once per level.
    static let maxDepth = 256
    lazy var current: TOMLParser.Table = root

    // MARK: Document structure

    mutating func parseDocument() throws(ConfigSyntaxError) {
        while !scanner.isAtEnd {
            skipWhitespace()
            guard let b = scanner.current else { break }
            switch b {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                break
            case UInt8(ascii: "["):
                try parseHeader()
            default:
                try parseKeyValue(into: current)
            }
            try expectEndOfLine()
        }
    }

    mutating func skipWhitespace() {
        while let b = scanner.current, b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { scanner.advance() }
    }

    /// After a statement: optional whitespace and comment, then a newline or the end.
    mutating func expectEndOfLine() throws(ConfigSyntaxError) {
        skipWhitespace()
        if scanner.current == UInt8(ascii: "#") {
            scanner.advance()
            while let b = scanner.current, b != UInt8(ascii: "\n") {
                if b < 0x20 && b != UInt8(ascii: "\t") && b != UInt8(ascii: "\r") {
                    throw scanner.error("\(scanner.currentDescription) is not allowed in a comment")
                }
                scanner.advance()
            }
        }
        if scanner.current == UInt8(ascii: "\r") && scanner.peek(1) == UInt8(ascii: "\n") { scanner.advance() }
        switch scanner.current {
        case nil: return
        case UInt8(ascii: "\n"): scanner.advance()
        default: throw scanner.error("expected the end of the line, found \(scanner.currentDescription); put each key = value on its own line")
        }
    }

    mutating func skipWhitespaceCommentsAndNewlines() throws(ConfigSyntaxError) {
        while let b = scanner.current {
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): scanner.advance()
            case UInt8(ascii: "#"): while let c = scanner.current, c != UInt8(ascii: "\n") { scanner.advance() }
            default: return
            }
        }
    }

    mutating func parseHeader() throws(ConfigSyntaxError) {
        let start = scanner.position
        let isArray = scanner.peek(1) == UInt8(ascii: "[")
        scanner.advance(by: isArray ? 2 : 1)
        skipWhitespace()
        let key = try parseKey()
        skipWhitespace()
        let close = isArray ? "]]" : "]"
        guard scanner.hasPrefix(close) else {
            throw scanner.error("expected '\(close)' to close the table header, found \(scanner.currentDescription)")
        }
        scanner.advance(by: close.utf8.count)

        var table = root
        for part in key.parts.dropLast() {
            table = try descend(table, part.name, at: part.position, creating: .implicit, path: key.dotted)
        }
        let last = key.parts.last!
        if isArray {
            try checkDepth(table.depth + 2, at: last.position)
            switch table.items[last.name]?.item {
            case nil:
                let element = TOMLParser.Table(at: start, origin: .header, depth: table.depth + 2)
                table.set(last.name, at: last.position, .tableArray([element], start))
                current = element
            case .tableArray(var tables, let position)?:
                let element = TOMLParser.Table(at: start, origin: .header, depth: table.depth + 2)
                tables.append(element)
                table.set(last.name, at: table.items[last.name]!.keyPosition, .tableArray(tables, position))
                current = element
            default:
                throw scanner.error("[[\(key.dotted)]] is already defined as a table or value, not an array of tables", at: start)
            }
        } else {
            try checkDepth(table.depth + 1, at: last.position)
            switch table.items[last.name]?.item {
            case nil:
                let element = TOMLParser.Table(at: start, origin: .header, depth: table.depth + 1)
                table.set(last.name, at: last.position, .table(element))
                current = element
            case .table(let existing)? where existing.origin == .implicit:
                existing.origin = .header
                current = existing
            case .table?:
                throw scanner.error("the table [\(key.dotted)] is defined twice; merge the two sections", at: start)
            default:
                throw scanner.error("[\(key.dotted)] is already defined as a value or an array of tables", at: start)
            }
        }
    }

    /// Returns the table at `name` inside `table`, creating it when missing.
    mutating func descend(
        _ table: TOMLParser.Table, _ name: String, at position: SourcePosition, creating origin: TOMLParser.Table.Origin,
        path: @autoclosure () -> String
    ) throws(ConfigSyntaxError) -> TOMLParser.Table {
        switch table.items[name]?.item {
        case nil:
            try checkDepth(table.depth + 1, at: position)
            let created = TOMLParser.Table(at: position, origin: origin, depth: table.depth + 1)
            table.set(name, at: position, .table(created))
            return created
        case .table(let existing)?:
            if existing.origin == .inline {
                throw scanner.error("\(path()): an inline table cannot be extended after it is written", at: position)
            }
            return existing
        case .tableArray(let tables, _)?:
            if origin == .dotted {
                throw scanner.error("\(path()): \(name) is an array of tables; dotted keys cannot extend it", at: position)
            }
            return tables.last!
        case .value?:
            throw scanner.error("\(path()): \(name) already holds a value, so it cannot also be a table", at: position)
        }
    }

    func checkDepth(_ depth: Int, at position: SourcePosition) throws(ConfigSyntaxError) {
        guard depth < Self.maxDepth else {
            throw scanner.error("tables and values are nested more than \(Self.maxDepth) deep", at: position)
        }
    }

    mutating func parseKeyValue(into table: TOMLParser.Table) throws(ConfigSyntaxError) {
        let key = try parseKey()
        skipWhitespace()
        guard scanner.current == UInt8(ascii: "=") else {
            throw scanner.error("expected '=' after the key \(key.dotted), found \(scanner.currentDescription)")
        }
        scanner.advance()
        skipWhitespace()
        // The value sits one level below `table` per part of its dotted key.
        let value = try parseValue(depth: table.depth + key.parts.count)
        var target = table
        for part in key.parts.dropLast() {
            target = try descend(target, part.name, at: part.position, creating: .dotted, path: key.dotted)
        }
        let last = key.parts.last!
        if target.items[last.name] != nil {
            throw scanner.error("\(key.dotted) is defined twice; remove one of them", at: last.position)
        }
        target.set(last.name, at: last.position, value)
    }

    mutating func parseKey() throws(ConfigSyntaxError) -> TOMLParser.Key {
        var parts: [(String, SourcePosition)] = []
        while true {
            let position = scanner.position
            let name: String
            switch scanner.current {
            case UInt8(ascii: "\""):
                name = try parseBasicString()
            case UInt8(ascii: "'"):
                name = try parseLiteralString()
            default:
                let start = scanner.index
                while let b = scanner.current, Self.isBareKeyByte(b) { scanner.advance() }
                guard scanner.index > start else {
                    throw scanner.error("expected a key, found \(scanner.currentDescription)")
                }
                name = String(decoding: scanner.bytes[start..<scanner.index], as: UTF8.self)
            }
            parts.append((name, position))
            skipWhitespace()
            guard scanner.current == UInt8(ascii: ".") else { break }
            scanner.advance()
            skipWhitespace()
        }
        return TOMLParser.Key(parts: parts)
    }

    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b.isASCIIDigit
            || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }
}
