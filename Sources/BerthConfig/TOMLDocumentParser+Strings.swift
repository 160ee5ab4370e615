extension TOMLDocumentParser {
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
