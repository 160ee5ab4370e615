import BerthConfig
import Testing

@Suite("berth.max_concurrent_starts")
struct MaxConcurrentStartsConfigTests {
    let container = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("defaults to 4 and is read")
    func values() throws {
        #expect(try load(config(container: container)).get().berth.maxConcurrentStarts == 4)
        let text = config(container: container, extra: #", "berth": { "max_concurrent_starts": 16 }"#)
        #expect(try load(text).get().berth.maxConcurrentStarts == 16)
    }

    @Test("mistakes point at the key", arguments: [("0", "between 1 and 1024"), ("\"4\"", "whole number"), ("2.5", "whole number")])
    func mistakes(value: String, words: String) throws {
        let text = config(container: container, extra: #", "berth": { "max_concurrent_starts": \#(value) }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: value, in: text, path: "berth.max_concurrent_starts", mentions: [words])
    }
}
