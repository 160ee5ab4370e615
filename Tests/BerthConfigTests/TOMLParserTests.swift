import BerthCore
@testable import BerthConfig
import Testing

@Suite("TOML parsing")
struct TOMLParserTests {
    func syntaxError(_ text: String) -> ConfigSyntaxError? {
        do {
            _ = try TOMLParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("tables, arrays of tables, dotted keys and inline tables")
    func structure() throws {
        let root = try TOMLParser.parse("""
            name = "app"  # comment
            site.bucket = "./public"

            [vars]
            GREETING = "hi"

            [[containers]]
            class_name = "A"
            instance_type = { vcpu = 1, memory_mib = 4096, disk_mb = 8000 }

            [[containers]]
            class_name = "B"
            rollout_step_percentage = [
              10,  # first
              100,
            ]

            [durable_objects]
            bindings = [ { name = "A_BINDING", class_name = "A" } ]
            """)
        guard case .string("app") = root["name"]?.value, case .string("./public") = root["site"]?["bucket"]?.value,
            case .string("hi") = root["vars"]?["GREETING"]?.value
        else {
            Issue.record("top-level values")
            return
        }
        guard case .array(let containers) = root["containers"]?.value, containers.count == 2 else {
            Issue.record("containers")
            return
        }
        guard case .string("B") = containers[1]["class_name"]?.value, case .integer(4096) = containers[0]["instance_type"]?["memory_mib"]?.value else {
            Issue.record("container values")
            return
        }
        #expect(containers[1].position == SourcePosition(line: 11, column: 1))
        guard case .array(let bindings) = root["durable_objects"]?["bindings"]?.value, case .string("A_BINDING") = bindings.first?["name"]?.value else {
            Issue.record("bindings")
            return
        }
    }

    @Test("strings: basic, literal, multi-line, escapes")
    func strings() throws {
        let root = try TOMLParser.parse(#"""
            a = "tab\t \"q\" \u00e9"
            b = 'C:\no\escape'
            c = """
            line one
            line \
                two"""
            d = '''
            raw \n'''
            """#)
        let values = ["a", "b", "c", "d"].map { key -> String in
            if case .string(let s)? = root[key]?.value { return s }
            return "<missing>"
        }
        #expect(values == ["tab\t \"q\" é", #"C:\no\escape"#, "line one\nline two", "raw \\n"])
    }

    @Test("numbers, booleans and dates")
    func scalars() throws {
        let root = try TOMLParser.parse("""
            i = 1_000
            h = 0xff
            n = -17
            f = 6.5e-1
            t = true
            date = 1979-05-27T07:32:00Z
            spaced = 1979-05-27 07:32:00
            """)
        guard case .integer(1000) = root["i"]?.value, case .integer(255) = root["h"]?.value, case .integer(-17) = root["n"]?.value,
            case .double(0.65) = root["f"]?.value, case .bool(true) = root["t"]?.value,
            case .string("1979-05-27T07:32:00Z") = root["date"]?.value, case .string("1979-05-27 07:32:00") = root["spaced"]?.value
        else {
            Issue.record("scalars: \(root)")
            return
        }
    }

    @Test("errors point at the offending place", arguments: [
        ("a = 1\na = 2", 2, 1, "defined twice"),
        ("[t]\nx = 1\n[t]", 3, 1, "defined twice"),
        ("a = hello", 1, 5, "strings need quotes"),
        ("a = 1 b = 2", 1, 7, "end of the line"),
        ("a = \"open", 1, 5, "never closed"),
        ("a = [1, 2", 1, 10, "never closed"),
        ("[t\nx = 1", 1, 3, "expected ']'"),
        ("a = { b = 1 }\na.c = 2", 2, 1, "inline table"),
        ("= 1", 1, 1, "expected a key"),
        ("a = 1\n[a]", 2, 1, "already defined"),
    ])
    func errors(text: String, line: Int, column: Int, words: String) throws {
        let error = try #require(syntaxError(text))
        #expect(error.position == SourcePosition(line: line, column: column), "\(error.message)")
        #expect(error.message.contains(words), "\(error.message)")
    }

    /// Every way TOML nests (headers, arrays of tables, dotted keys, inline tables, arrays)
    /// adds to one count: 100,000 levels are a syntax error at the 256th, not a stack overflow.
    /// The file is `before`, `unit` `count` times, then `after`.
    @Test("nesting is limited across inline tables, arrays, dotted keys and headers", arguments: [
        // a = {b = [{b = [ …: the 256th level is the 128th '[' (column 10 + 6 × 127).
        ("a = ", "{b = [", 100_000, "", 1, 772),
        // 100,001 dotted parts: the value would sit 100,001 deep.
        ("", "a.", 100_000, "a = 1", 1, 200_005),
        // A header 100,001 tables deep: the 256th part (column 2 + 2 × 255).
        ("[", "a.", 100_000, "a]", 1, 512),
        ("[[", "a.", 100_000, "a]]", 1, 513),
        // An array of tables (2 levels), then inline tables: the 254th '{' (column 5 + 5 × 253).
        ("[[t]]\nx = ", "{a = ", 100_000, "", 2, 1270),
        // Arrays alone: 255 levels are allowed, the 256th '[' is not.
        ("x = ", "[", 256, String(repeating: "]", count: 256), 1, 260),
    ])
    func nestingLimit(before: String, unit: String, count: Int, after: String, line: Int, column: Int) throws {
        let text = before + String(repeating: unit, count: count) + after
        let error = try #require(syntaxError(text))
        #expect(error.position == SourcePosition(line: line, column: column), "\(error.message)")
        #expect(error.message.contains("nested more than 256 deep"), "\(error.message)")
        let report = ConfigLoader.load(text: text, file: "wrangler.toml", folder: "/")
        #expect(report.errors.map(\.description) == ["wrangler.toml:\(line):\(column): syntax error: \(error.message)"])
    }

    @Test("255 levels of any kind parse")
    func nestingAtTheLimit() throws {
        _ = try TOMLParser.parse("x = " + String(repeating: "[", count: 255) + String(repeating: "]", count: 255))
        _ = try TOMLParser.parse("[[t]]\nx = " + String(repeating: "{a = [", count: 126) + "1" + String(repeating: "]}", count: 126))
        _ = try TOMLParser.parse("[" + String(repeating: "a.", count: 253) + "a]\nb = 1")
    }

    @Test("validation errors in wrangler.toml carry TOML positions")
    func validationInTOML() throws {
        let text = """
            name = "app"

            [[containers]]
            class_name = "MyContainr"
            image = "./Dockerfile"

            [[durable_objects.bindings]]
            name = "MY_CONTAINER"
            class_name = "MyContainer"

            [[migrations]]
            tag = "v1"
            new_sqlite_classes = ["MyContainer"]
            """
        let error = try onlyError(try load(text, as: "wrangler.toml"))
        #expect(error.file.hasSuffix("wrangler.toml"))
        #expect((error.line, error.column) == (4, 14))
        #expect(error.path == "containers[0].class_name")
    }
}

@Suite("Durations")
struct DurationTextTests {
    @Test("parse", arguments: [
        ("30", Duration.seconds(30)), ("1.5", .milliseconds(1500)), ("500ms", .milliseconds(500)), ("30s", .seconds(30)),
        ("10m", .seconds(600)), ("1h", .seconds(3600)), ("1h30m", .seconds(5400)), (" 2m ", .seconds(120)),
    ])
    func parse(text: String, expected: Duration) {
        #expect(BerthCore.DurationText.parse(text) == expected)
    }

    @Test("reject", arguments: ["", "soon", "10x", "-5", "m", "5 m"])
    func reject(text: String) {
        #expect(BerthCore.DurationText.parse(text) == nil)
    }

    @Test("format picks the largest exact unit")
    func format() {
        #expect(BerthCore.DurationText.format(.seconds(600)) == "10m")
        #expect(BerthCore.DurationText.format(.seconds(90)) == "90s")
        #expect(BerthCore.DurationText.format(.milliseconds(1500)) == "1500ms")
        #expect(BerthCore.DurationText.format(.seconds(7200)) == "2h")
    }
}
