extension TOMLDocumentParser {
    // MARK: Values

    /// `depth`: how many tables and arrays hold the value (see ``TOMLDocumentParser/maxDepth``).
    mutating func parseValue(depth: Int) throws(ConfigSyntaxError) -> TOMLParser.Item {
        try checkDepth(depth, at: scanner.position)
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
            let table = TOMLParser.Table(at: start, origin: .dotted, depth: depth)
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

    func freeze(_ table: TOMLParser.Table) {
        table.origin = .inline
        for key in table.keys {
            if case .table(let child) = table.items[key]!.item { freeze(child) }
        }
    }

    mutating func parseNumberOrDate() throws(ConfigSyntaxError) -> ConfigNode {
        let start = scanner.position
        let first = scanner.index
        while let b = scanner.current, Self.isTokenByte(b) { scanner.advance() }
        // A date and a time may be separated by one space: 1979-05-27 07:32:00
        if scanner.current == UInt8(ascii: " "), let next = scanner.peek(1), next.isASCIIDigit,
            Self.looksLikeDate(scanner.bytes[first..<scanner.index])
        {
            scanner.advance()
            while let b = scanner.current, Self.isTokenByte(b) { scanner.advance() }
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

    static func isTokenByte(_ b: UInt8) -> Bool {
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
}
