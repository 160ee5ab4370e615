/// Parses JSON with comments (`//`, `/* */`) and trailing commas — the `wrangler.jsonc`
/// dialect — into a ``ConfigNode`` tree that keeps every value's position.
public enum JSONCParser {
    /// Duplicate keys are allowed (the last one wins, as in JSON.parse) and reported here.
    public struct Result: Sendable {
        public var root: ConfigNode
        public var duplicateKeys: [(key: String, position: SourcePosition)]
    }

    public static func parse(_ text: String) throws(ConfigSyntaxError) -> Result {
        var parser = Parser(scanner: SourceScanner(text))
        try parser.skipTrivia()
        if parser.scanner.isAtEnd {
            throw parser.scanner.error("the file is empty; expected a JSON object such as {\"name\": \"my-app\"}")
        }
        let root = try parser.parseValue(depth: 0)
        try parser.skipTrivia()
        if !parser.scanner.isAtEnd {
            throw parser.scanner.error("unexpected \(parser.scanner.currentDescription) after the end of the top-level value")
        }
        return Result(root: root, duplicateKeys: parser.duplicates)
    }

    private struct Parser {
        var scanner: SourceScanner
        var duplicates: [(key: String, position: SourcePosition)] = []
        static let maxDepth = 256

        mutating func skipTrivia() throws(ConfigSyntaxError) {
            while let b = scanner.current {
                switch b {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    scanner.advance()
                case UInt8(ascii: "/") where scanner.peek(1) == UInt8(ascii: "/"):
                    while let c = scanner.current, c != UInt8(ascii: "\n") { scanner.advance() }
                case UInt8(ascii: "/") where scanner.peek(1) == UInt8(ascii: "*"):
                    let start = scanner.position
                    scanner.advance(by: 2)
                    while true {
                        guard !scanner.isAtEnd else {
                            throw scanner.error("this /* comment is never closed; add */", at: start)
                        }
                        if scanner.hasPrefix("*/") { scanner.advance(by: 2); break }
                        scanner.advance()
                    }
                default:
                    return
                }
            }
        }

        mutating func parseValue(depth: Int) throws(ConfigSyntaxError) -> ConfigNode {
            guard depth < Self.maxDepth else { throw scanner.error("values are nested more than \(Self.maxDepth) deep") }
            let start = scanner.position
            guard let b = scanner.current else { throw scanner.error("expected a value, found end of file") }
            switch b {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return ConfigNode(.string(try parseString()), at: start)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default:
                for (word, value) in [("true", ConfigNode.Value.bool(true)), ("false", .bool(false)), ("null", .null)]
                where scanner.hasPrefix(word) {
                    scanner.advance(by: word.utf8.count)
                    return ConfigNode(value, at: start)
                }
                if b == UInt8(ascii: "'") {
                    throw scanner.error("strings must use double quotes (\"), not single quotes")
                }
                throw scanner.error("expected a value (string, number, object, array, true, false or null), found \(scanner.currentDescription)")
            }
        }

        mutating func parseObject(depth: Int) throws(ConfigSyntaxError) -> ConfigNode {
            let start = scanner.position
            scanner.advance()  // {
            var members: [ConfigNode.Member] = []
            var seen: Set<String> = []
            while true {
                try skipTrivia()
                guard let b = scanner.current else {
                    throw scanner.error("the object opened at line \(start.line), column \(start.column) is never closed; add }")
                }
                if b == UInt8(ascii: "}") { scanner.advance(); break }
                guard b == UInt8(ascii: "\"") else {
                    throw scanner.error("expected a key in double quotes or }, found \(scanner.currentDescription)")
                }
                let keyPosition = scanner.position
                let key = try parseString()
                try skipTrivia()
                guard scanner.current == UInt8(ascii: ":") else {
                    throw scanner.error("expected ':' after the key \"\(key)\", found \(scanner.currentDescription)")
                }
                scanner.advance()
                try skipTrivia()
                let value = try parseValue(depth: depth + 1)
                if !seen.insert(key).inserted { duplicates.append((key, keyPosition)) }
                members.append(.init(key: key, keyPosition: keyPosition, value: value))
                try skipTrivia()
                switch scanner.current {
                case UInt8(ascii: ","): scanner.advance()
                case UInt8(ascii: "}"): scanner.advance(); return ConfigNode(.object(members), at: start)
                case nil:
                    throw scanner.error("the object opened at line \(start.line), column \(start.column) is never closed; add }")
                default:
                    throw scanner.error("expected ',' or '}' after the value of \"\(key)\", found \(scanner.currentDescription)")
                }
            }
            return ConfigNode(.object(members), at: start)
        }

        mutating func parseArray(depth: Int) throws(ConfigSyntaxError) -> ConfigNode {
            let start = scanner.position
            scanner.advance()  // [
            var items: [ConfigNode] = []
            while true {
                try skipTrivia()
                guard let b = scanner.current else {
                    throw scanner.error("the array opened at line \(start.line), column \(start.column) is never closed; add ]")
                }
                if b == UInt8(ascii: "]") { scanner.advance(); break }
                items.append(try parseValue(depth: depth + 1))
                try skipTrivia()
                switch scanner.current {
                case UInt8(ascii: ","): scanner.advance()
                case UInt8(ascii: "]"): scanner.advance(); return ConfigNode(.array(items), at: start)
                case nil:
                    throw scanner.error("the array opened at line \(start.line), column \(start.column) is never closed; add ]")
                default:
                    throw scanner.error("expected ',' or ']' after an array element, found \(scanner.currentDescription)")
                }
            }
            return ConfigNode(.array(items), at: start)
        }

        mutating func parseString() throws(ConfigSyntaxError) -> String {
            let start = scanner.position
            scanner.advance()  // "
            var out: [UInt8] = []
            while true {
                guard let b = scanner.current else {
                    throw scanner.error("the string that starts here is never closed; add \"", at: start)
                }
                switch b {
                case UInt8(ascii: "\""):
                    scanner.advance()
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\n"):
                    throw scanner.error("the string that starts at line \(start.line), column \(start.column) runs past the end of the line; close it with \" or write \\n")
                case 0..<0x20:
                    throw scanner.error("\(scanner.currentDescription) inside a string; escape it (\\t, \\n, \\u00XX)")
                case UInt8(ascii: "\\"):
                    let escapePosition = scanner.position
                    scanner.advance()
                    guard let e = scanner.current else { continue }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        scanner.advance()
                        var code = try readHex4(escapeAt: escapePosition)
                        if (0xD800..<0xDC00).contains(code), scanner.hasPrefix("\\u") {
                            scanner.advance(by: 2)
                            let low = try readHex4(escapeAt: escapePosition)
                            guard (0xDC00..<0xE000).contains(low) else {
                                throw scanner.error("invalid surrogate pair in \\u escape", at: escapePosition)
                            }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard SourceScanner.appendScalar(code, to: &out) else {
                            throw scanner.error("\\u escape is not a valid character (lone surrogate)", at: escapePosition)
                        }
                        continue
                    default:
                        throw scanner.error("unknown escape \\\(String(decoding: [e], as: UTF8.self)) in a string; valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX", at: escapePosition)
                    }
                    scanner.advance()
                default:
                    out.append(b)
                    scanner.advance()
                }
            }
        }

        mutating func readHex4(escapeAt: SourcePosition) throws(ConfigSyntaxError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let h = scanner.current?.hexValue else {
                    throw scanner.error("\\u must be followed by four hex digits", at: escapeAt)
                }
                value = value * 16 + h
                scanner.advance()
            }
            return value
        }

        mutating func parseNumber() throws(ConfigSyntaxError) -> ConfigNode {
            let start = scanner.position
            let first = scanner.index
            var isInteger = true
            if scanner.current == UInt8(ascii: "-") { scanner.advance() }
            guard let d = scanner.current, d.isASCIIDigit else {
                throw scanner.error("expected a digit after '-', found \(scanner.currentDescription)")
            }
            if d == UInt8(ascii: "0") {
                scanner.advance()
                if let n = scanner.current, n.isASCIIDigit {
                    throw scanner.error("numbers cannot have leading zeros")
                }
            } else {
                while let c = scanner.current, c.isASCIIDigit { scanner.advance() }
            }
            if scanner.current == UInt8(ascii: ".") {
                isInteger = false
                scanner.advance()
                guard let c = scanner.current, c.isASCIIDigit else {
                    throw scanner.error("expected a digit after the decimal point, found \(scanner.currentDescription)")
                }
                while let c = scanner.current, c.isASCIIDigit { scanner.advance() }
            }
            if scanner.current == UInt8(ascii: "e") || scanner.current == UInt8(ascii: "E") {
                isInteger = false
                scanner.advance()
                if scanner.current == UInt8(ascii: "+") || scanner.current == UInt8(ascii: "-") { scanner.advance() }
                guard let c = scanner.current, c.isASCIIDigit else {
                    throw scanner.error("expected a digit in the exponent, found \(scanner.currentDescription)")
                }
                while let c = scanner.current, c.isASCIIDigit { scanner.advance() }
            }
            let text = String(decoding: scanner.bytes[first..<scanner.index], as: UTF8.self)
            if isInteger, let i = Int(text) { return ConfigNode(.integer(i), at: start) }
            guard let value = Double(text) else { throw scanner.error("invalid number \(text)", at: start) }
            return ConfigNode(.double(value), at: start)
        }
    }
}
