import BerthConfig
import Foundation
import Testing

@Suite("berth.limits")
struct LimitsConfigTests {
    let image = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("defaults apply when the section is absent")
    func defaults() throws {
        let report = try load(config(container: image))
        let limits = try #require(report.config).berth.limits
        #expect(limits == LimitSettings())
        #expect(limits.headerTimeout == .seconds(60))
        #expect(limits.keepaliveTimeout == .seconds(75))
        #expect(limits.maxHeaderBytes == 32768)
        #expect(limits.objectIdleForget == .seconds(600))
        #expect(limits.maxObjects == 100_000)
    }

    @Test("every key is read, durations as numbers or text")
    func everyKey() throws {
        let text = config(container: image, extra: """
            ,
              "berth": { "limits": {
                "header_timeout": "5s", "body_idle_timeout": 7, "keepalive_timeout": "2m", "response_timeout": "1500ms",
                "send_timeout": "9s", "max_header_bytes": 8192, "max_connections": 12, "object_idle_forget": "1h", "max_objects": 50
              } }
            """)
        let limits = try #require(try load(text).config).berth.limits
        #expect(limits.headerTimeout == .seconds(5))
        #expect(limits.bodyIdleTimeout == .seconds(7))
        #expect(limits.keepaliveTimeout == .seconds(120))
        #expect(limits.responseTimeout == .milliseconds(1500))
        #expect(limits.sendTimeout == .seconds(9))
        #expect(limits.maxHeaderBytes == 8192)
        #expect(limits.maxConnections == 12)
        #expect(limits.objectIdleForget == .seconds(3600))
        #expect(limits.maxObjects == 50)
        // Saved with a deployment and read back the same.
        let data = try JSONEncoder().encode(limits)
        #expect(try JSONDecoder().decode(LimitSettings.self, from: data) == limits)
    }

    @Test("a bad value names the file, line and key")
    func badValues() throws {
        for (key, value, words) in [
            ("max_connections", "0", ["between 1 and"]),
            ("header_timeout", "\"0s\"", ["longer than 0s"]),
            ("max_header_bytes", "\"big\"", ["whole number"]),
            ("keepalive_timeout", "\"soon\"", ["duration"]),
        ] {
            let text = config(container: image, extra: ",\n  \"berth\": { \"limits\": { \"\(key)\": \(value) } }")
            let error = try onlyError(try load(text))
            expectDiagnostic(error, at: value, in: text, path: "berth.limits.\(key)", mentions: words)
        }
    }

    @Test("an unknown key is a warning with the closest name")
    func unknownKey() throws {
        let text = config(container: image, extra: ",\n  \"berth\": { \"limits\": { \"header_timeot\": \"5s\" } }")
        let report = try load(text)
        #expect(report.config != nil)
        let warning = try #require(report.warnings.first { $0.path == "berth.limits.header_timeot" })
        #expect(warning.message.contains("header_timeout"))
    }

    @Test("a deployment saved before the section existed still loads")
    func olderDeployment() throws {
        var settings = BerthSettings()
        settings.limits.maxObjects = 3
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings)) as? [String: Any])
        json["limits"] = nil
        let decoded = try JSONDecoder().decode(BerthSettings.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded.limits == LimitSettings())
    }
}
