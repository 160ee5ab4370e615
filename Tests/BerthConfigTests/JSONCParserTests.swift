@testable import BerthConfig
import Testing

@Suite("JSONC parsing")
struct JSONCParserTests {
    func parse(_ text: String) throws -> ConfigNode {
        try JSONCParser.parse(text).root
    }

    func syntaxError(_ text: String) -> ConfigSyntaxError? {
        do {
            _ = try JSONCParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("line and block comments, trailing commas, a byte order mark")
    func dialect() throws {
        let text = "\u{FEFF}" + """
            // leading comment
            {
              /* block
                 comment */ "a": 1, // trailing
              "b": [1, 2, 3,],
              "c": { "d": "x", },
            }
            """
        let root = try parse(text)
        guard case .integer(1) = root["a"]?.value else { Issue.record("a"); return }
        guard case .array(let items) = root["b"]?.value else { Issue.record("b"); return }
        #expect(items.count == 3)
        guard case .string("x") = root["c"]?["d"]?.value else { Issue.record("c.d"); return }
        #expect(root.member("a")?.keyPosition == SourcePosition(line: 4, column: 17))
    }

    @Test("comment markers inside strings are text")
    func commentsInStrings() throws {
        let root = try parse(#"{ "url": "http://example.com/*x*/", "s": "a // b" }"#)
        guard case .string("http://example.com/*x*/") = root["url"]?.value, case .string("a // b") = root["s"]?.value else {
            Issue.record("strings were cut")
            return
        }
    }

    @Test("escapes, including surrogate pairs")
    func escapes() throws {
        let root = try parse(#"{ "s": "tab\there \"q\" \\ \/ \u00e9 \ud83d\ude00 \n" }"#)
        guard case .string(let s) = root["s"]?.value else { Issue.record("s"); return }
        #expect(s == "tab\there \"q\" \\ / é 😀 \n")
    }

    @Test("numbers keep integers apart from fractions")
    func numbers() throws {
        let root = try parse(#"{ "i": -12, "d": 1.5e2, "z": 0, "big": 12345678901234567890 }"#)
        guard case .integer(-12) = root["i"]?.value, case .double(150) = root["d"]?.value, case .integer(0) = root["z"]?.value,
            case .double = root["big"]?.value
        else {
            Issue.record("numbers: \(root)")
            return
        }
    }

    @Test("columns count characters, not bytes")
    func unicodeColumns() throws {
        let root = try parse("{ \"é😀\": 1, \"k\": 2 }")
        #expect(root.member("k")?.keyPosition == SourcePosition(line: 1, column: 12))
    }

    @Test("duplicate keys: the last wins, and they are reported")
    func duplicateKeys() throws {
        let result = try JSONCParser.parse("{\n  \"a\": 1,\n  \"a\": 2\n}")
        guard case .integer(2) = result.root["a"]?.value else { Issue.record("a"); return }
        #expect(result.duplicateKeys.count == 1)
        #expect(result.duplicateKeys.first?.position == SourcePosition(line: 3, column: 3))
    }

    @Test("syntax errors point at the offending character", arguments: [
        ("{\n  \"a\": 1\n  \"b\": 2\n}", 3, 3, "expected ',' or '}'"),
        ("{\n  \"a\": ,\n}", 2, 8, "expected a value"),
        ("{ \"a\": 'x' }", 1, 8, "double quotes"),
        ("{ a: 1 }", 1, 3, "expected a key in double quotes"),
        ("{ \"a\": 1 } x", 1, 12, "after the end"),
        ("{ \"a\": tru }", 1, 8, "expected a value"),
        ("{ \"a\": 01 }", 1, 9, "leading zeros"),
        ("{ \"a\": 1.}", 1, 10, "digit after the decimal point"),
        ("{ \"a\": \"\\q\" }", 1, 9, "unknown escape"),
        ("{ \"a\": [1, 2 }", 1, 14, "expected ',' or ']'"),
        ("/* never closed\n{}", 1, 1, "never closed"),
        ("{ \"a\": \"no end\n}", 1, 15, "runs past the end of the line"),
        ("", 1, 1, "empty"),
        ("{ \"a\": 1", 1, 9, "never closed"),
    ])
    func errors(text: String, line: Int, column: Int, words: String) throws {
        let error = try #require(syntaxError(text))
        #expect(error.position == SourcePosition(line: line, column: column), "\(error.message)")
        #expect(error.message.contains(words), "\(error.message)")
    }

    @Test("100,000 levels of nesting are a syntax error at the 256th, not a stack overflow", arguments: [
        ("[", 100_000, 257),
        ("{\"a\":", 100_000, 1281),
        ("[{\"a\":", 50_000, 769),
    ])
    func nestingLimit(unit: String, count: Int, column: Int) throws {
        let error = try #require(syntaxError(String(repeating: unit, count: count)))
        #expect(error.position == SourcePosition(line: 1, column: column), "\(error.message)")
        #expect(error.message.contains("nested more than 256 deep"), "\(error.message)")
    }

    @Test("a syntax error in a config file is reported as file:line:column")
    func errorInFile() throws {
        let report = try load("{\n  \"containers\": [\n    { \"class_name\": \"A\" \"image\": \"x\" }\n  ]\n}")
        let error = try onlyError(report)
        #expect(error.line == 3)
        #expect(error.column == 25)
        #expect(error.description.hasSuffix("wrangler.jsonc:3:25: syntax error: expected ',' or '}' after the value of \"class_name\", found '\"'"))
    }
}
