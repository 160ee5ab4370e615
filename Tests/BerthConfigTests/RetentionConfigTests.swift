import BerthConfig
import Foundation
import Testing

@Suite("berth.retention")
struct RetentionConfigTests {
    let container = #"{ "class_name": "MyContainer", "image": "./Dockerfile" }"#

    @Test("keeps 10 deployments by default, and what it is told")
    func values() throws {
        #expect(try load(config(container: container)).get().berth.retention.deployments == 10)
        let text = config(container: container, extra: #", "berth": { "retention": { "deployments": 3 } }"#)
        #expect(try load(text).get().berth.retention.deployments == 3)
    }

    @Test("mistakes point at the key", arguments: [("0", "between 1 and 10000"), ("\"4\"", "whole number"), ("2.5", "whole number")])
    func mistakes(value: String, words: String) throws {
        let text = config(container: container, extra: #", "berth": { "retention": { "deployments": \#(value) } }"#)
        let error = try onlyError(try load(text))
        expectDiagnostic(error, at: value, in: text, path: "berth.retention.deployments", mentions: [words])
    }

    @Test("a misspelt key is named, and a retention that is not an object")
    func unknownKeys() throws {
        let misspelt = config(container: container, extra: #", "berth": { "retention": { "deployment": 3 } }"#)
        let report = try load(misspelt)
        let warning = try #require(report.warnings.first { $0.path == "berth.retention.deployment" })
        #expect(warning.message.contains("deployments"))
        let scalar = config(container: container, extra: #", "berth": { "retention": 3 }"#)
        let error = try onlyError(try load(scalar))
        expectDiagnostic(error, at: "3", in: scalar, path: "berth.retention", mentions: ["object"])
    }

    @Test("a deployment saved before the key existed still loads, with the default")
    func olderDeployment() throws {
        var settings = BerthSettings()
        settings.retention.deployments = 3
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings)) as? [String: Any])
        #expect((json["retention"] as? [String: Any])?["deployments"] as? Int == 3)
        json["retention"] = nil
        let decoded = try JSONDecoder().decode(BerthSettings.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded.retention == RetentionSettings())
    }
}
