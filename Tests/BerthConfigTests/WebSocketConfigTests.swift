import BerthConfig
import Foundation
import Testing

@Suite("berth.websockets and websocket_activity")
struct WebSocketConfigTests {
    let image = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("defaults: 1,000 per object, 10,000 per class, no idle timeout, 16 MiB messages, open sockets keep objects awake")
    func defaults() throws {
        let config = try #require(try load(config(container: image)).config)
        #expect(config.berth.websockets == WebSocketSettings())
        #expect(config.berth.websockets.maxPerObject == 1_000)
        #expect(config.berth.websockets.maxPerClass == 10_000)
        #expect(config.berth.websockets.idleTimeout == nil)
        #expect(config.berth.websockets.maxMessageBytes == 16 << 20)
        #expect(ClassSettings().webSocketActivity == .open)
    }

    @Test("every key is read, and saved with a deployment the same")
    func everyKey() throws {
        let text = config(container: image, extra: """
            ,
              "berth": {
                "websockets": { "max_per_object": 3, "max_per_class": 7, "idle_timeout": "90s", "max_message_bytes": 4096 },
                "classes": { "MyContainer": { "websocket_activity": "frames" } }
              }
            """)
        let config = try #require(try load(text).config)
        let settings = config.berth.websockets
        #expect(settings.maxPerObject == 3)
        #expect(settings.maxPerClass == 7)
        #expect(settings.idleTimeout == .seconds(90))
        #expect(settings.maxMessageBytes == 4096)
        #expect(config.berth.classes["MyContainer"]?.webSocketActivity == .frames)
        let data = try JSONEncoder().encode(config.berth)
        let decoded = try JSONDecoder().decode(BerthSettings.self, from: data)
        #expect(decoded.websockets == settings)
        #expect(decoded.classes["MyContainer"]?.webSocketActivity == .frames)
    }

    @Test("\"off\" turns the idle timeout off")
    func off() throws {
        let text = config(container: image, extra: #", "berth": { "websockets": { "idle_timeout": "off" } }"#)
        #expect(try #require(try load(text).config).berth.websockets.idleTimeout == nil)
    }

    @Test("a bad value names the file, line and key")
    func badValues() throws {
        for (key, value, words) in [
            ("max_per_object", "0", ["between 1 and"]),
            ("max_per_class", "\"many\"", ["whole number"]),
            ("idle_timeout", "\"0s\"", ["longer than 0s", "off"]),
            ("idle_timeout", "\"later\"", ["duration"]),
            ("max_message_bytes", "12", ["between 125 and"]),
        ] {
            let text = config(container: image, extra: ",\n  \"berth\": { \"websockets\": { \"\(key)\": \(value) } }")
            let error = try onlyError(try load(text))
            expectDiagnostic(error, at: value, in: text, path: "berth.websockets.\(key)", mentions: words)
        }
        let text = config(container: image, extra: ",\n  \"berth\": { \"classes\": { \"MyContainer\": { \"websocket_activity\": \"always\" } } }")
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: "\"always\"", in: text, path: "berth.classes.MyContainer.websocket_activity", mentions: ["\"open\"", "\"frames\""])
    }

    @Test("an unknown key is a warning with the closest name")
    func unknownKey() throws {
        let text = config(container: image, extra: ",\n  \"berth\": { \"websockets\": { \"max_per_objects\": 2 } }")
        let report = try load(text)
        #expect(report.config != nil)
        let warning = try #require(report.warnings.first { $0.path == "berth.websockets.max_per_objects" })
        #expect(warning.message.contains("max_per_object"))
    }
}
