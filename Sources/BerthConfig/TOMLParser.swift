/// Parses TOML (v1.0) — the `wrangler.toml` dialect — into a ``ConfigNode`` tree that keeps
/// every value's position. Dates and times are kept as strings.
public enum TOMLParser {
    public static func parse(_ text: String) throws(ConfigSyntaxError) -> ConfigNode {
        var parser = Parser(scanner: SourceScanner(text))
        try parser.parseDocument()
        return parser.root.node()
    }

    private final class Table {
        enum Origin { case implicit, header, dotted, inline }
        let position: SourcePosition
        var origin: Origin
        var keys: [String] = []
        var items: [String: (keyPosition: SourcePosition, item: Item)] = [:]

        init(at position: SourcePosition, origin: Origin) {
            self.position = position
            self.origin = origin
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

    private enum Item {
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

    private struct Key {
        var parts: [(name: String, position: SourcePosition)]
        var dotted: String { parts.map(\.name).joined(separator: ".") }
    }

    private struct Parser {
        var scanner: SourceScanner
        let root = Table(at: SourcePosition(line: 1, column: 1), origin: .header)
        lazy var current: Table = root

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
                switch table.items[last.name]?.item {
                case nil:
                    let element = Table(at: start, origin: .header)
                    table.set(last.name, at: last.position, .tableArray([element], start))
                    current = element
                case .tableArray(var tables, let position)?:
                    let element = Table(at: start, origin: .header)
                    tables.append(element)
                    table.set(last.name, at: table.items[last.name]!.keyPosition, .tableArray(tables, position))
                    current = element
                default:
                    throw scanner.error("[[\(key.dotted)]] is already defined as a table or value, not an array of tables", at: start)
                }
            } else {
                switch table.items[last.name]?.item {
                case nil:
                    let element = Table(at: start, origin: .header)
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
            _ table: Table, _ name: String, at position: SourcePosition, creating origin: Table.Origin, path: String
        ) throws(ConfigSyntaxError) -> Table {
            switch table.items[name]?.item {
            case nil:
                let created = Table(at: position, origin: origin)
                table.set(name, at: position, .table(created))
                return created
            case .table(let existing)?:
                if existing.origin == .inline {
                    throw scanner.error("\(path): an inline table cannot be extended after it is written", at: position)
                }
                return existing
            case .tableArray(let tables, _)?:
                if origin == .dotted {
                    throw scanner.error("\(path): \(name) is an array of tables; dotted keys cannot extend it", at: position)
                }
                return tables.last!
            case .value?:
                throw scanner.error("\(path): \(name) already holds a value, so it cannot also be a table", at: position)
            }
        }

        mutating func parseKeyValue(into table: Table) throws(ConfigSyntaxError) {
            let key = try parseKey()
            skipWhitespace()
            guard scanner.current == UInt8(ascii: "=") else {
                throw scanner.error("expected '=' after the key \(key.dotted), found \(scanner.currentDescription)")
            }
            scanner.advance()
            skipWhitespace()
            let value = try parseValue(depth: 0)
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

        mutating func parseKey() throws(ConfigSyntaxError) -> Key {
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
            return Key(parts: parts)
        }

        static func isBareKeyByte(_ b: UInt8) -> Bool {
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b.isASCIIDigit
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
        }

        // MARK: Values

        mutating func parseValue(depth: Int) throws(ConfigSyntaxError) -> Item {
            guard depth < 256 else { throw scanner.error("values are nested more than 256 deep") }
            let start = scanner.position
            guard let b = scanner.current else { throw scanner.error("expected a value, found end of file") }
            switch b {
            case UInt8(ascii: "\""):
                return .value(ConfigNode(.string(try parseBasicString()), at: start))
            case UInt8(ascii: "'"):
                return .value(ConfigNode(.string(try parseLiteralString()), at: start))
            case UInt8(ascii: "["):
                scanner.advance()
                var items: [ConfigNode] = []
                while true {
                    try skipWhitespaceCommentsAndNewlines()
                    if scanner.current == UInt8(ascii: "]") { scanner.advance(); break }
                    guard !scanner.isAtEnd else {
                        throw scanner.error("the array opened at line \(start.line), column \(start.column) is never closed; add ]")
                    }
                    items.append(try parseValue(depth: depth + 1).node())
                    try skipWhitespaceCommentsAndNewlines()
                    guard !scanner.isAtEnd else {
                        throw scanner.error("the array opened at line \(start.line), column \(start.column) is never closed; add ]")
                    }
                    if scanner.current == UInt8(ascii: ",") { scanner.advance(); continue }
                    if scanner.current == UInt8(ascii: "]") { scanner.advance(); break }
                    throw scanner.error("expected ',' or ']' in the array, found \(scanner.currentDescription)")
                }
                return .value(ConfigNode(.array(items), at: start))
            case UInt8(ascii: "{"):
                scanner.advance()
                let table = Table(at: start, origin: .dotted)
                skipWhitespace()
                if scanner.current == UInt8(ascii: "}") {
                    scanner.advance()
                } else {
                    while true {
                        skipWhitespace()
                        try parseKeyValue(into: table)
                        skipWhitespace()
                        if scanner.current == UInt8(ascii: ",") { scanner.advance(); continue }
                        if scanner.current == UInt8(ascii: "}") { scanner.advance(); break }
                        throw scanner.error("expected ',' or '}' in the inline table, found \(scanner.currentDescription); inline tables must stay on one line")
                    }
                }
                freeze(table)
                return .table(table)
            case UInt8(ascii: "t") where scanner.hasPrefix("true"):
                scanner.advance(by: 4)
                return .value(ConfigNode(.bool(true), at: start))
            case UInt8(ascii: "f") where scanner.hasPrefix("false"):
                scanner.advance(by: 5)
                return .value(ConfigNode(.bool(false), at: start))
            default:
                return .value(try parseNumberOrDate())
            }
        }

        func freeze(_ table: Table) {
            table.origin = .inline
            for key in table.keys {
                if case .table(let child) = table.items[key]!.item { freeze(child) }
            }
        }

        mutating func parseNumberOrDate() throws(ConfigSyntaxError) -> ConfigNode {
            let start = scanner.position
            let first = scanner.index
            while let b = scanner.current, Self.isTokenByteStatic(b) { scanner.advance() }
            // A date and a time may be separated by one space: 1979-05-27 07:32:00
            if scanner.current == UInt8(ascii: " "), let next = scanner.peek(1), next.isASCIIDigit,
                Self.looksLikeDate(scanner.bytes[first..<scanner.index])
            {
                scanner.advance()
                while let b = scanner.current, Self.isTokenByteStatic(b) { scanner.advance() }
            }
            let token = String(decoding: scanner.bytes[first..<scanner.index], as: UTF8.self)
            guard !token.isEmpty else {
                throw scanner.error("expected a value (string, number, boolean, array or table), found \(scanner.currentDescription)")
            }
            if Self.looksLikeDate(scanner.bytes[first..<scanner.index]) || Self.looksLikeTime(token) {
                return ConfigNode(.string(token), at: start)
            }
            if let value = Self.integer(token) { return ConfigNode(.integer(value), at: start) }
            if let value = Self.float(token) { return ConfigNode(.double(value), at: start) }
            throw scanner.error("'\(token)' is not a valid value; strings need quotes, e.g. \"\(token)\"", at: start)
        }

        static func isTokenByteStatic(_ b: UInt8) -> Bool {
            isBareKeyByte(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
        }

        static func looksLikeDate(_ bytes: ArraySlice<UInt8>) -> Bool {
            let b = Array(bytes.prefix(10))
            guard b.count == 10 else { return false }
            return b[0...3].allSatisfy(\.isASCIIDigit) && b[4] == UInt8(ascii: "-")
                && b[5...6].allSatisfy(\.isASCIIDigit) && b[7] == UInt8(ascii: "-") && b[8...9].allSatisfy(\.isASCIIDigit)
        }

        static func looksLikeTime(_ token: String) -> Bool {
            let b = Array(token.utf8)
            return b.count >= 8 && b[0...1].allSatisfy(\.isASCIIDigit) && b[2] == UInt8(ascii: ":")
        }

        static func integer(_ token: String) -> Int? {
            var text = Substring(token)
            var negative = false
            if text.first == "+" || text.first == "-" {
                negative = text.first == "-"
                text = text.dropFirst()
            }
            var radix = 10
            for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
                guard token.first != "+" && token.first != "-" else { return nil }
                radix = r
                text = text.dropFirst(2)
            }
            guard validUnderscores(text), !text.isEmpty else { return nil }
            let digits = text.filter { $0 != "_" }
            if radix == 10, digits.count > 1, digits.first == "0" { return nil }
            guard let magnitude = Int(digits, radix: radix) else { return nil }
            return negative ? -magnitude : magnitude
        }

        static func float(_ token: String) -> Double? {
            switch token {
            case "inf", "+inf": return .infinity
            case "-inf": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default: break
            }
            guard validUnderscores(Substring(token)) else { return nil }
            let text = token.filter { $0 != "_" }
            guard text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
            // TOML requires digits on both sides of the decimal point.
            if let dot = text.firstIndex(of: ".") {
                let before = text[..<dot].last
                let after = text[text.index(after: dot)...].first
                guard before?.isNumber == true, after?.isNumber == true else { return nil }
            }
            return Double(text)
        }

        /// Underscores are allowed only between two digits.
        static func validUnderscores(_ text: Substring) -> Bool {
            let chars = Array(text)
            for (i, c) in chars.enumerated() where c == "_" {
                guard i > 0, i < chars.count - 1, chars[i - 1].isHexDigit, chars[i + 1].isHexDigit else { return false }
            }
            return true
        }

        // MARK: Strings

        mutating func parseBasicString() throws(ConfigSyntaxError) -> String {
            let start = scanner.position
            let multiline = scanner.hasPrefix("\"\"\"")
            scanner.advance(by: multiline ? 3 : 1)
            if multiline { skipNewlineAfterOpening() }
            var out: [UInt8] = []
            while true {
                guard let b = scanner.current else {
                    throw scanner.error("the string that starts here is never closed", at: start)
                }
                if multiline, scanner.hasPrefix("\"\"\"") {
                    // Up to two quotes may sit right before the closing delimiter.
                    var extra = 0
                    while scanner.peek(3 + extra) == UInt8(ascii: "\"") && extra < 2 { extra += 1 }
                    out.append(contentsOf: Array(repeating: UInt8(ascii: "\""), count: extra))
                    scanner.advance(by: 3 + extra)
                    return String(decoding: out, as: UTF8.self)
                }
                if !multiline, b == UInt8(ascii: "\"") {
                    scanner.advance()
                    return String(decoding: out, as: UTF8.self)
                }
                if b == UInt8(ascii: "\n") || (b == UInt8(ascii: "\r") && scanner.peek(1) == UInt8(ascii: "\n")) {
                    guard multiline else {
                        throw scanner.error("the string that starts at line \(start.line), column \(start.column) runs past the end of the line; close it with \" or use \"\"\" for several lines")
                    }
                    out.append(b)
                    scanner.advance()
                    continue
                }
                if b < 0x20 && b != UInt8(ascii: "\t") || b == 0x7F {
                    throw scanner.error("\(scanner.currentDescription) inside a string; escape it")
                }
                if b == UInt8(ascii: "\\") {
                    try parseEscape(into: &out, multiline: multiline)
                    continue
                }
                out.append(b)
                scanner.advance()
            }
        }

        mutating func skipNewlineAfterOpening() {
            if scanner.current == UInt8(ascii: "\n") {
                scanner.advance()
            } else if scanner.current == UInt8(ascii: "\r"), scanner.peek(1) == UInt8(ascii: "\n") {
                scanner.advance(by: 2)
            }
        }

        mutating func parseEscape(into out: inout [UInt8], multiline: Bool) throws(ConfigSyntaxError) {
            let escapePosition = scanner.position
            scanner.advance()
            guard let e = scanner.current else { return }
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "e"): out.append(0x1B)
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = e == UInt8(ascii: "u") ? 4 : 8
                scanner.advance()
                var value: UInt32 = 0
                for _ in 0..<count {
                    guard let h = scanner.current?.hexValue else {
                        throw scanner.error("\\\(e == UInt8(ascii: "u") ? "u" : "U") must be followed by \(count) hex digits", at: escapePosition)
                    }
                    value = value &* 16 &+ h
                    scanner.advance()
                }
                guard SourceScanner.appendScalar(value, to: &out) else {
                    throw scanner.error("the escape is not a valid Unicode scalar value", at: escapePosition)
                }
                return
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                guard multiline else {
                    throw scanner.error("a backslash followed by whitespace is only allowed at the end of a line in a \"\"\" string", at: escapePosition)
                }
                // Line-ending backslash: trim the newline and the whitespace that follows.
                var probe = 0
                while let c = scanner.peek(probe), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { probe += 1 }
                guard let c = scanner.peek(probe), c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") else {
                    throw scanner.error("a backslash followed by spaces must end the line", at: escapePosition)
                }
                while let c = scanner.current,
                    c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
                {
                    scanner.advance()
                }
                return
            default:
                throw scanner.error("unknown escape in a string; valid escapes are \\\" \\\\ \\b \\t \\n \\f \\r \\e \\uXXXX \\UXXXXXXXX", at: escapePosition)
            }
            scanner.advance()
        }

        mutating func parseLiteralString() throws(ConfigSyntaxError) -> String {
            let start = scanner.position
            let multiline = scanner.hasPrefix("'''")
            scanner.advance(by: multiline ? 3 : 1)
            if multiline { skipNewlineAfterOpening() }
            let first = scanner.index
            while true {
                guard let b = scanner.current else {
                    throw scanner.error("the string that starts here is never closed", at: start)
                }
                if multiline, scanner.hasPrefix("'''") {
                    var extra = 0
                    while scanner.peek(3 + extra) == UInt8(ascii: "'") && extra < 2 { extra += 1 }
                    let text = String(decoding: scanner.bytes[first..<(scanner.index + extra)], as: UTF8.self)
                    scanner.advance(by: 3 + extra)
                    return text
                }
                if !multiline, b == UInt8(ascii: "'") {
                    let text = String(decoding: scanner.bytes[first..<scanner.index], as: UTF8.self)
                    scanner.advance()
                    return text
                }
                if !multiline, b == UInt8(ascii: "\n") {
                    throw scanner.error("the string that starts at line \(start.line), column \(start.column) runs past the end of the line")
                }
                scanner.advance()
            }
        }
    }
}
