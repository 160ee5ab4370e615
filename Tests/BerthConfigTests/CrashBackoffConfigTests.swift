import BerthConfig
import Testing

@Suite("berth.classes.<Class>.crash_backoff")
struct CrashBackoffConfigTests {
    let container = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("defaults to 1s doubling to 60s; either key may be set")
    func values() throws {
        #expect(try load(config(container: container)).get().berth.classes["MyContainer"] == nil)
        #expect(ClassSettings().crashBackoff == CrashBackoff(initial: .seconds(1), max: .seconds(60)))
        func read(_ value: String) throws -> CrashBackoff? {
            let text = config(container: container, extra: #", "berth": { "classes": { "MyContainer": { "crash_backoff": \#(value) } } }"#)
            return try load(text).get().berth.classes["MyContainer"]?.crashBackoff
        }
        #expect(try read(#"{ "initial": "500ms", "max": "2m" }"#) == CrashBackoff(initial: .milliseconds(500), max: .seconds(120)))
        #expect(try read(#"{ "max": 10 }"#) == CrashBackoff(initial: .seconds(1), max: .seconds(10)))
        #expect(try read(#"{ "initial": "5m" }"#) == CrashBackoff(initial: .seconds(300), max: .seconds(300)))
    }

    @Test("mistakes point at the key", arguments: [
        (#"{ "initial": "soon" }"#, #""soon""#, "berth.classes.MyContainer.crash_backoff.initial", "duration"),
        (#"{ "initial": 0 }"#, "0 }", "berth.classes.MyContainer.crash_backoff.initial", "longer than 0s"),
        (#"{ "initial": "10s", "max": "5s" }"#, #""5s""#, "berth.classes.MyContainer.crash_backoff.max", "at least initial (10s)"),
        (#""1s""#, #""1s""#, "berth.classes.MyContainer.crash_backoff", "object"),
    ])
    func mistakes(value: String, needle: String, path: String, words: String) throws {
        let text = config(container: container, extra: #", "berth": { "classes": { "MyContainer": { "crash_backoff": \#(value) } } }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: needle, in: text, path: path, mentions: [words])
    }
}
